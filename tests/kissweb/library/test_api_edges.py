"""Edge cases of uploads and streaming get clear JSON answers (fault 12 of issue 12)."""

from __future__ import annotations

import json

import pytest

from kissweb.analysis.models import ModelVersion
from kissweb.library.models import Movie
from tests.kissweb.library.conftest import files_under

pytestmark = pytest.mark.django_db

BOUNDARY = "----kissweb-edge"


def multipart(*parts: tuple[str, str | None, bytes]) -> bytes:
    """(field, filename or None, content) parts as a browser would send them."""
    out = b""
    for field, filename, content in parts:
        disposition = f'form-data; name="{field}"' + (f'; filename="{filename}"' if filename is not None else "")
        out += (f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n"
                f"Content-Type: application/octet-stream\r\n\r\n").encode() + content + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


def post_multipart(client, url, body, **extra):
    return client.generic("POST", url, body, content_type=f"multipart/form-data; boundary={BOUNDARY}", **extra)


@pytest.mark.parametrize("name", [".", "..", "../", "movies/..", "..\\\\"])
@pytest.mark.parametrize("size", [100, 200_000])  # past 1 KB Django read the skipped file's bytes as headers
def test_a_file_named_like_a_folder_is_refused_by_name(api_client, small_video, media_root, name, size):
    body = multipart(("file", name, small_video.read_bytes()[:size]), ("title", None, b"Dots"))
    response = post_multipart(api_client, "/api/movies/", body)
    assert response.status_code == 400, response.content
    error = response.json()
    assert error["code"] == "bad_file_name" and "not a usable name" in error["detail"] and "file" in error["errors"]
    assert not Movie.objects.exists() and not files_under(media_root)


def test_two_file_parts_are_refused_and_nothing_is_stored(api_client, small_video, tmp_path, media_root):
    other = tmp_path / "other.mp4"
    other.write_bytes(small_video.read_bytes()[:-10] + b"0123456789")
    body = multipart(("file", "a.mp4", small_video.read_bytes()), ("file", "b.mp4", other.read_bytes()))
    response = post_multipart(api_client, "/api/movies/", body)
    assert response.status_code == 400
    assert response.json()["code"] == "several_files" and "one file per upload" in response.json()["detail"]
    assert not Movie.objects.exists() and not files_under(media_root)


def test_two_model_files_are_refused_too(staff_client, media_root):
    body = multipart(("file", "a.safetensors", b"x" * 64), ("file", "b.safetensors", b"y" * 64))
    response = post_multipart(staff_client, "/api/scene-types/kissing/models/", body)
    assert response.status_code == 400 and response.json()["code"] == "several_files"
    assert not ModelVersion.objects.exists()


def test_a_chunked_upload_is_refused_with_411_saying_what_to_do(api_client, small_video):
    body = multipart(("file", "a.mp4", small_video.read_bytes()))
    response = post_multipart(api_client, "/api/movies/", body, HTTP_TRANSFER_ENCODING="chunked", CONTENT_LENGTH="")
    assert response.status_code == 411
    error = response.json()
    assert error["code"] == "length_required" and "Content-Length" in error["detail"]


@pytest.mark.parametrize(("method", "url"), [("PUT", "/api/me/preferences/"), ("POST", "/api/scene-types/"),
                                             ("POST", "/api/auth/token/")])
def test_a_json_body_over_10_mb_is_a_json_413(staff_client, method, url):
    body = json.dumps({"name": "x" * (10 * 1024 * 1024 + 1)})
    response = staff_client.generic(method, url, body, content_type="application/json")
    assert response.status_code == 413 and response["Content-Type"] == "application/json"
    assert response.json()["code"] == "body_too_large" and "10 MB" in response.json()["detail"]


@pytest.fixture
def stream(api_client, user, make_movie):
    content = bytes(range(256)) * 40
    movie = make_movie(user, content=content)
    url = f"/api/movies/{movie.pk}/stream/"
    return url, content, api_client.get(url)


def test_the_stream_has_a_strong_etag_and_last_modified(stream):
    _, _, whole = stream
    assert whole["ETag"].startswith('"') and whole["Last-Modified"]


def test_if_range_with_the_current_etag_or_date_gives_the_range(api_client, stream):
    url, content, whole = stream
    for validator in (whole["ETag"], whole["Last-Modified"]):
        response = api_client.get(url, HTTP_RANGE="bytes=10-19", HTTP_IF_RANGE=validator)
        assert response.status_code == 206 and b"".join(response.streaming_content) == content[10:20]


@pytest.mark.parametrize("if_range", ['"another-version"', 'W/"weak"', "Tue, 01 Jan 2019 00:00:00 GMT", "garbage"])
def test_a_non_matching_if_range_gets_the_whole_file(api_client, stream, if_range):
    url, content, whole = stream
    response = api_client.get(url, HTTP_RANGE="bytes=10-19", HTTP_IF_RANGE=if_range)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == content and "Content-Range" not in response


def test_a_weak_form_of_the_current_etag_does_not_match(api_client, stream):
    url, content, whole = stream
    response = api_client.get(url, HTTP_RANGE="bytes=10-19", HTTP_IF_RANGE="W/" + whole["ETag"])
    assert response.status_code == 200
