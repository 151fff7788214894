"""A film whose audio track exists but cannot be decoded is analysed with silence, and people are told: the movie
keeps the warning, the movie API returns it and the movie page shows it."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from kissweb.analysis import pipeline
from kissweb.analysis.services import analysis_request
from kissweb.analysis.models import MovieEmbedding
from kissweb.library.models import Movie, MovieStatus
from tests.mediagen import make_corrupt_audio_video

pytestmark = pytest.mark.django_db


def _movie_from(path, media_root, user, *, title: str) -> Movie:
    name = f"movies/{uuid.uuid4().hex}.mp4"
    target = media_root / name
    target.parent.mkdir(parents=True, exist_ok=True)
    path.replace(target)
    return Movie.objects.create(
        title=title, original_filename=path.name, file=name, size_bytes=target.stat().st_size,
        sha256=hashlib.sha256(target.read_bytes()).hexdigest(), duration_s=4.0, width=320, height=240, fps=25.0,
        has_audio=True, uploaded_by=user,
    )


def test_undecodable_audio_is_analysed_as_silence_and_said_on_the_movie(media_root, user, api_client, tmp_path):
    movie = _movie_from(make_corrupt_audio_video(tmp_path / "broken.mp4", duration_s=4.0), media_root, user,
                        title="Broken sound")
    analysis = analysis_request(movie=movie)

    assert pipeline.analysis_run(analysis_id=analysis.pk) == "succeeded"  # the real detector, not a stand-in

    movie.refresh_from_db()
    assert movie.status == MovieStatus.READY and movie.error == ""
    assert movie.audio_warning.startswith("The audio track could not be decoded")
    assert MovieEmbedding.objects.filter(movie=movie).get().n_windows == 4
    body = api_client.get(f"/api/movies/{movie.pk}/").json()
    assert body["audio_warning"] == movie.audio_warning
    assert str(media_root) not in body["audio_warning"]
    listed = api_client.get("/api/movies/").json()["results"]
    assert [m["audio_warning"] for m in listed if m["id"] == movie.pk] == [movie.audio_warning]


def test_a_film_whose_sound_decodes_has_no_warning(make_movie, media_root):
    movie = make_movie(duration_s=4.0)
    Movie.objects.filter(pk=movie.pk).update(audio_warning="stale: from an earlier analysis")
    assert pipeline.analysis_run(analysis_id=analysis_request(movie=movie).pk) == "succeeded"
    movie.refresh_from_db()
    assert movie.audio_warning == ""
