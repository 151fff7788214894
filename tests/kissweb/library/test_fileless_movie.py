"""A movie whose download failed has no file, so no duration: its media endpoints answer in words, never 500
(issue 19, item 8)."""

from __future__ import annotations

import pytest

from kissweb.library.models import Movie, MovieStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def fileless(user) -> Movie:
    return Movie.objects.create(title="From a URL", original_filename="", source_url="http://example.invalid/a.mp4",
                                uploaded_by=user, status=MovieStatus.FAILED, error="The download failed.")


def test_chapters_of_a_movie_without_a_file_are_empty(api_client, fileless):
    response = api_client.get(f"/api/movies/{fileless.pk}/chapters.vtt")
    assert response.status_code == 200
    assert response.content.decode().startswith("WEBVTT")


def test_no_spans_on_a_movie_without_a_file(api_client, fileless):
    for url in (f"/api/movies/{fileless.pk}/segments/", f"/api/movies/{fileless.pk}/annotations/"):
        body = {"scene_type": "kissing", "start_s": 0, "end_s": 1e308, "label": "positive"}
        response = api_client.post(url, body, format="json")
        assert response.status_code == 409, response.content
        assert "no video file" in response.json()["detail"]
    assert api_client.get(f"/api/movies/{fileless.pk}/chapters.vtt").status_code == 200


@pytest.mark.parametrize("t", ["0", "1.5"])
def test_thumbnail_of_a_movie_without_a_file_is_404_in_words(api_client, fileless, t):
    response = api_client.get(f"/api/movies/{fileless.pk}/thumbnail/", {"t": t})
    assert response.status_code == 404
    assert "no video file" in response.json()["detail"]


def test_chapters_survive_a_span_at_the_float_limit():
    from kissweb.library.selectors import vtt_timestamp

    assert vtt_timestamp(1e308).startswith("99")
    assert vtt_timestamp(float("inf")).startswith("99")
