"""What the OpenAPI schema declares and what the server answers agree (issue 19 item 16): the 409 of a second
analysis, the model upload's file, page numbers, and min_segments up to int64."""

from __future__ import annotations

import pytest

from kissweb.library.models import Movie
from tests.openapi import published_schema

pytestmark = pytest.mark.django_db


def _operation(path: str, method: str) -> dict:
    return published_schema()["paths"][path][method]


@pytest.fixture
def movie(user, tmp_path, settings):
    import hashlib
    import uuid

    settings.MEDIA_ROOT = tmp_path
    (tmp_path / "movies").mkdir()
    (tmp_path / "movies" / "a.mp4").write_bytes(b"x" * 100)
    return Movie.objects.create(
        title="Casablanca", original_filename="a.mp4", file="movies/a.mp4", size_bytes=100,
        sha256=hashlib.sha256(uuid.uuid4().bytes).hexdigest(), duration_s=60, width=320, height=240, fps=25,
        has_audio=True, uploaded_by=user, status="ready",
    )


def test_a_second_analysis_answers_409_with_the_declared_analysis_and_run(api_client, movie):
    first = api_client.post(f"/api/movies/{movie.pk}/analyze/")
    assert first.status_code == 202
    second = api_client.post(f"/api/movies/{movie.pk}/analyze/")  # the schema check runs on this answer
    assert second.status_code == 409
    body = second.json()
    assert body["analysis"] == first.json()["id"]
    assert body["run"]["id"] == first.json()["run"]["id"]


def test_analysing_a_movie_whose_download_failed_is_a_409_of_the_declared_shape(api_client, user):
    fileless = Movie.objects.create(title="From a URL", original_filename="", uploaded_by=user, status="failed",
                                    source_url="http://example.invalid/a.mp4")
    response = api_client.post(f"/api/movies/{fileless.pk}/analyze/")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "no_video_file" and "no video file" in body["detail"]
    assert body["analysis"] is None and body["run"] is None


def test_the_model_upload_declares_a_binary_file():
    operation = _operation("/api/scene-types/{slug}/models/", "post")
    content = operation["requestBody"]["content"]
    assert "multipart/form-data" in content
    ref = content["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[1]
    file_schema = published_schema()["components"]["schemas"][ref]["properties"]["file"]
    assert file_schema.get("format") == "binary" or file_schema.get("contentMediaType") == "application/octet-stream"


@pytest.mark.parametrize("path", ["/api/movies/", "/api/segments/", "/api/models/", "/api/exports/"])
def test_page_zero_is_a_400_and_the_schema_says_pages_start_at_1(api_client, path):
    response = api_client.get(path, {"page": "0"})
    assert response.status_code == 400
    assert "numbered from 1" in response.json()["detail"]
    page = next(p for p in _operation(path, "get")["parameters"] if p["name"] == "page")
    assert page["schema"].get("minimum") == 1


def test_min_segments_takes_every_int64(api_client, movie):
    for value in (2**31, 2**63 - 1):
        response = api_client.get("/api/movies/", {"scene_type": "kissing", "min_segments": str(value)})
        assert response.status_code == 200, response.content
        assert response.json()["count"] == 0
    schema = next(p for p in _operation("/api/movies/", "get")["parameters"] if p["name"] == "min_segments")["schema"]
    assert schema.get("maximum") == 2**63 - 1
