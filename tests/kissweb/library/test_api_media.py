"""Posters, thumbnails for scene lists, and WebVTT chapters."""

from __future__ import annotations

import pytest

from kissweb.library.models import SceneType
from tests.kissweb.library.conftest import detected_segment, manual_segment

pytestmark = pytest.mark.django_db


@pytest.fixture
def real_movie(user, make_movie, small_video):
    return make_movie(user, source=small_video, duration_s=4.0, title="Small")


def test_thumbnail_is_made_once_and_cached(other_client, real_movie, media_root, monkeypatch):
    response = other_client.get(f"/api/movies/{real_movie.pk}/thumbnail/", {"t": "1.25"})
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    jpeg = b"".join(response.streaming_content)
    assert jpeg[:2] == b"\xff\xd8"
    cached = media_root / "thumbs" / str(real_movie.pk) / "12.jpg"
    assert cached.read_bytes() == jpeg

    import detector

    def fail(*args, **kwargs):
        raise AssertionError("the cached still should be served without decoding")

    monkeypatch.setattr(detector, "extract_frame", fail)
    again = other_client.get(f"/api/movies/{real_movie.pk}/thumbnail/", {"t": "1.2"})
    assert again.status_code == 200 and b"".join(again.streaming_content) == jpeg


def test_thumbnail_bad_times(other_client, real_movie, anon_client):
    assert other_client.get(f"/api/movies/{real_movie.pk}/thumbnail/", {"t": "99"}).status_code == 400
    assert other_client.get(f"/api/movies/{real_movie.pk}/thumbnail/", {"t": "-1"}).status_code == 400
    assert other_client.get(f"/api/movies/{real_movie.pk}/thumbnail/").status_code == 400
    assert other_client.get("/api/movies/999999/thumbnail/", {"t": "1"}).status_code == 404
    assert anon_client.get(f"/api/movies/{real_movie.pk}/thumbnail/", {"t": "1"}).status_code in (401, 403)


def test_thumbnail_of_a_damaged_file_is_422(other_client, user, make_movie):
    broken = make_movie(user, content=b"not a video at all" * 100, duration_s=10)
    response = other_client.get(f"/api/movies/{broken.pk}/thumbnail/", {"t": "1"})
    assert response.status_code == 422
    assert response.json()["detail"]


def test_poster(api_client, small_video, anon_client):
    with small_video.open("rb") as f:
        movie = api_client.post("/api/movies/", {"file": f}, format="multipart").json()
    response = api_client.get(movie["poster_url"])
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert b"".join(response.streaming_content)[:2] == b"\xff\xd8"
    assert anon_client.get(movie["poster_url"]).status_code in (401, 403)


def test_movie_without_poster_says_so(api_client, user, make_movie):
    movie = make_movie(user)
    assert api_client.get(f"/api/movies/{movie.pk}/").json()["poster_url"] is None
    assert api_client.get(f"/api/movies/{movie.pk}/poster/").status_code == 404


def test_chapters_vtt(other_client, anon_client, user, make_movie, kissing):
    movie = make_movie(user, duration_s=4000)
    fight = SceneType.objects.create(slug="fight", name="Fight")
    detected_segment(movie, kissing, 3723.5, 3725.25)
    manual_segment(movie, fight, 0.5, 61.001)
    response = other_client.get(f"/api/movies/{movie.pk}/chapters.vtt", HTTP_ACCEPT="text/vtt")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/vtt")
    text = response.content.decode()
    assert text.startswith("WEBVTT\n\n")
    cues = [block.splitlines() for block in text.strip().split("\n\n")[1:]]
    assert cues[0][1:] == ["00:00:00.500 --> 00:01:01.001", "Fight (manual)"]
    assert cues[1][1:] == ["01:02:03.500 --> 01:02:05.250", "Kissing"]
    assert anon_client.get(f"/api/movies/{movie.pk}/chapters.vtt").status_code in (401, 403)
    assert other_client.get("/api/movies/999999/chapters.vtt").status_code == 404


def test_chapters_of_a_movie_without_scenes(other_client, user, make_movie):
    movie = make_movie(user)
    assert other_client.get(f"/api/movies/{movie.pk}/chapters.vtt").content.decode().strip() == "WEBVTT"
