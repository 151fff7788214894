"""HTTP Range on the stream endpoint (and the range parser on its own)."""

from __future__ import annotations

import pytest

from kissweb.library.streaming import Unsatisfiable, content_type_for, parse_range

pytestmark = pytest.mark.django_db

CONTENT = bytes(range(256)) * 40  # 10,240 bytes, each position recognisable


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None), ("", None), ("bytes=0-99", (0, 99)), ("bytes=100-", (100, 10239)), ("bytes=-500", (9740, 10239)),
        ("bytes=-99999", (0, 10239)), ("bytes=10000-99999", (10000, 10239)), ("bytes=5-4", None),
        ("items=0-5", None), ("bytes=0-1,5-6", None), ("bytes=abc", None), ("BYTES = 3 - 4", (3, 4)),
    ],
)
def test_parse_range(header, expected):
    assert parse_range(header, 10240) == expected


@pytest.mark.parametrize("header", ["bytes=10240-", "bytes=20000-20010", "bytes=-0"])
def test_parse_range_unsatisfiable(header):
    with pytest.raises(Unsatisfiable):
        parse_range(header, 10240)


def test_content_types():
    assert content_type_for("a/b.mp4") == "video/mp4"
    assert content_type_for("a/b.WEBM") == "video/webm"
    assert content_type_for("a/b.mkv") == "video/x-matroska"
    assert content_type_for("a/b.xyz") == "application/octet-stream"


@pytest.fixture
def movie(user, make_movie):
    return make_movie(user, content=CONTENT)


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def get(client, movie, range_header=None):
    extra = {"HTTP_RANGE": range_header} if range_header else {}
    return client.get(f"/api/movies/{movie.pk}/stream/", **extra)


def test_full_file(other_client, movie):
    response = get(other_client, movie)
    assert response.status_code == 200
    assert body(response) == CONTENT
    assert response["Content-Length"] == str(len(CONTENT))
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Type"] == "video/mp4"
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [("bytes=0-99", 0, 99), ("bytes=5000-5999", 5000, 5999), ("bytes=-100", 10140, 10239),
     ("bytes=10000-", 10000, 10239), ("bytes=10000-50000", 10000, 10239)],
)
def test_ranges(other_client, movie, header, first, last):
    response = get(other_client, movie, header)
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes {first}-{last}/{len(CONTENT)}"
    assert response["Content-Length"] == str(last - first + 1)
    assert response["Accept-Ranges"] == "bytes"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert body(response) == CONTENT[first:last + 1]


def test_unsatisfiable_range_is_416(other_client, movie):
    response = get(other_client, movie, "bytes=99999-")
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(CONTENT)}"


def test_large_range_streams_in_chunks(other_client, user, make_movie):
    big = make_movie(user, content=b"\x00" * (3 * 1024 * 1024), title="Big")
    response = get(other_client, big, "bytes=1-")
    chunks = list(response.streaming_content)
    assert len(chunks) > 1 and max(len(c) for c in chunks) <= 256 * 1024
    assert sum(len(c) for c in chunks) == 3 * 1024 * 1024 - 1


def test_session_login_works_for_video_src(user, movie):
    from django.test import Client

    client = Client()
    client.login(username="alice", password="alice-pass-123")
    response = client.get(f"/api/movies/{movie.pk}/stream/", HTTP_RANGE="bytes=0-9", HTTP_ACCEPT="video/webm,*/*;q=0.5")
    assert response.status_code == 206 and body(response) == CONTENT[:10]


def test_accept_header_of_a_media_element_does_not_matter(other_client, movie):
    response = other_client.get(f"/api/movies/{movie.pk}/stream/", HTTP_ACCEPT="video/mp4")
    assert response.status_code == 200


def test_stream_needs_login_and_an_existing_movie(anon_client, other_client, movie):
    assert get(anon_client, movie).status_code in (401, 403)
    response = other_client.get("/api/movies/999999/stream/", HTTP_ACCEPT="video/mp4")
    assert response.status_code == 404
    assert response.json()["detail"]


def test_behind_nginx_the_bytes_are_handed_off(other_client, movie, settings):
    settings.KISSWEB_ACCEL_REDIRECT_PREFIX = "/protected-media"
    response = get(other_client, movie, "bytes=0-9")
    assert response.status_code == 200
    assert response["X-Accel-Redirect"] == f"/protected-media/{movie.file.name}"
    assert response.content == b""
    assert response["Content-Type"] == "video/mp4"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_a_missing_file_is_a_json_404_not_a_crash(other_client, movie, media_root):
    (media_root / movie.file.name).unlink()
    response = get(other_client, movie, "bytes=0-9")
    assert response.status_code == 404
    assert "missing" in response.json()["detail"]
    assert other_client.get(f"/api/movies/{movie.pk}/thumbnail/", {"t": "1"}).status_code == 404


def test_head_reports_the_size_without_a_body(other_client, movie):
    response = other_client.head(f"/api/movies/{movie.pk}/stream/")
    assert response.status_code == 200
    assert response["Content-Length"] == str(len(CONTENT)) and response["Accept-Ranges"] == "bytes"
    assert b"".join(response.streaming_content) == b"" if response.streaming else response.content == b""
