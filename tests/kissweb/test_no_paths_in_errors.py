"""Errors people read name the movie, never a path on the server (the path goes to the server log)."""

from __future__ import annotations

import hashlib
import uuid

import pytest

import detector

pytestmark = pytest.mark.django_db


@pytest.fixture
def broken_movie(user, settings, tmp_path):
    """A movie whose stored file is not a video, with the error the analysis writes for it (detector's own
    words, which start with the file's absolute path)."""
    from kissweb.library.models import Movie
    from tests.runs import analysis_create

    settings.MEDIA_ROOT = tmp_path / "media"
    (settings.MEDIA_ROOT / "movies").mkdir(parents=True)
    path = settings.MEDIA_ROOT / "movies" / f"{uuid.uuid4().hex}.mp4"
    path.write_bytes(b"this is not a video at all" * 100)
    with pytest.raises(detector.DecodeError) as caught:
        detector.probe(path)
    error = f"The video cannot be decoded: {caught.value} Upload a complete, playable copy."
    assert str(path) in error  # what the detector says does name the path
    movie = Movie.objects.create(
        title="Casablanca", original_filename="c.mp4", file=str(path.relative_to(settings.MEDIA_ROOT)),
        size_bytes=2600, sha256=hashlib.sha256(uuid.uuid4().bytes).hexdigest(), duration_s=100.0, width=320,
        height=240, has_audio=True, uploaded_by=user, status="failed", error=error,
    )
    analysis_create(movie=movie, status="failed", run_fields={"error": error})
    return movie, str(settings.MEDIA_ROOT)


def test_a_movies_error_names_the_movie_not_its_file(api_client, broken_movie):
    movie, media_root = broken_movie
    for body in (api_client.get(f"/api/movies/{movie.pk}/").json(), api_client.get("/api/movies/").json()["results"][0]):
        assert media_root not in body["error"] and ".mp4" not in body["error"]
        assert "'Casablanca'" in body["error"] and "cannot be decoded" in body["error"]


def test_the_analyses_list_names_the_movie_not_its_file(api_client, broken_movie):
    movie, media_root = broken_movie
    listing = api_client.get(f"/api/movies/{movie.pk}/analyses/").json()
    rows = listing["results"] if isinstance(listing, dict) else listing
    assert rows and all(media_root not in row["error"] and "'Casablanca'" in row["error"] for row in rows)


def test_a_still_that_cannot_be_made_names_the_movie(api_client, broken_movie, caplog):
    movie, media_root = broken_movie
    response = api_client.get(f"/api/movies/{movie.pk}/thumbnail/?t=1")
    assert response.status_code == 422
    body = response.json()
    assert media_root not in body["detail"] and "'Casablanca'" in body["detail"]
    assert media_root in caplog.text  # the path is in the server log


def test_any_api_error_loses_server_paths(settings):
    from kissweb import errors

    response = errors.exception_handler(errors.Invalid(f"cannot read {settings.MEDIA_ROOT}/models/x.safetensors."))
    assert response.data["detail"] == "cannot read a file on the server."
    kept = errors.exception_handler(errors.Invalid("See /api/scene-types/ for the ones that exist."))
    assert kept.data["detail"] == "See /api/scene-types/ for the ones that exist."
