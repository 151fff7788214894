"""The published model inside the app: import its model.pkl, activate it, and the analysed film's per-second scores
equal a plain forward pass of the pickled modules. Switching models back and forth never decodes the film again.

Real detector, real pipeline (no scripted embedder): a published-layout pickle with random weights
(tests/published_model.py), a generated film, the app's own services and management command.
"""

from __future__ import annotations

import hashlib
import shutil

import numpy as np
import pytest
from django.core.management import call_command

import detector
from kissweb.analysis import pipeline, services
from kissweb.analysis.models import Analysis, AnalysisStatus, ModelVersion, MovieEmbedding, ScoreTrack
from kissweb.library.models import Movie
from tests.kissweb.analysis.conftest import first_feature_model
from tests.mediagen import make_video
from tests.published_model import film_inputs, published_probabilities, write_published_pickle

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def film(tmp_path_factory):
    return make_video(
        tmp_path_factory.mktemp("film") / "film.mp4", duration_s=6.0, size="320x240",
        audio="sine=frequency=330:beep_factor=3:sample_rate=44100",
    )


@pytest.fixture(scope="module")
def published(tmp_path_factory, film):
    """(module, model.pkl, the plain forward pass's P(kissing) per second of the film)."""
    module, pickle_path = write_published_pickle(tmp_path_factory.mktemp("pkl") / "model.pkl", seed=0,
                                                 calibrate_on=film)
    return module, pickle_path, published_probabilities(module, *film_inputs(film))


def _movie_of(film, media_root, user) -> Movie:
    name = "movies/film.mp4"
    (media_root / "movies").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(film, media_root / name)
    info = detector.probe(film)
    return Movie.objects.create(
        title="Generated film", original_filename="film.mp4", file=name, size_bytes=film.stat().st_size,
        sha256=hashlib.sha256(film.read_bytes()).hexdigest(), duration_s=info.duration_s, width=info.width,
        height=info.height, fps=info.fps, has_audio=info.has_audio, uploaded_by=user,
    )


def _run_queued() -> list[str]:
    queued = Analysis.objects.filter(run__status=AnalysisStatus.QUEUED).order_by("pk").values_list("pk", flat=True)
    return [pipeline.analysis_run(analysis_id=pk) for pk in queued]


def _scores(movie, version) -> np.ndarray:
    return ScoreTrack.decode(ScoreTrack.objects.get(movie=movie, model_version=version).scores)


def test_the_published_model_activated_in_the_app_scores_as_its_own_forward_pass(
    published, film, media_root, user, kissing, tmp_path, capsys, monkeypatch
):
    module, pickle_path, expected = published
    movie = _movie_of(film, media_root, user)
    assert _run_queued() == [] and pipeline.analysis_run(
        analysis_id=services.analysis_request(movie=movie).pk) == "succeeded"
    decodes = []
    real_embed = detector.embed_video
    monkeypatch.setitem(detector.__dict__, "embed_video",
                        lambda *args, **kwargs: decodes.append(kwargs.get("backbones")) or real_embed(*args, **kwargs))

    call_command("activate_model", str(pickle_path), "--scene-type", "kissing")

    out = capsys.readouterr().out
    version = ModelVersion.objects.get(is_active=True)
    assert "decodes 1 film(s) once" in out and "published backbones" in out
    card = version.card
    assert (version.backbone_set, card["channel_order"], card["backbones"]["fine_tuned"]) == ("published", "BGR", True)
    assert version.backbone_digest == card["backbones"]["sha256"]
    assert _run_queued() == ["succeeded"] and decodes == ["published"]
    scores = _scores(movie, version)
    assert scores.shape == expected.shape == (6,) and expected.std() > 0.01  # the scores vary: a real comparison
    assert np.abs(scores - expected).max() < TOLERANCE, (scores, expected)

    # Back to a model on the standard embeddings and to the published one again: re-scored, never decoded again.
    other = services.model_version_create(
        scene_type=kissing, name="other",
        file=detector.save_model(first_feature_model(backbone_set=version_set(movie)), tmp_path / "other.safetensors"),
    )
    for again in (other, version, other, version):
        services.model_version_activate(model_version=again)
        assert _run_queued() == ["succeeded"]
    assert decodes == ["published"]
    assert MovieEmbedding.objects.filter(movie=movie).count() == 2
    assert np.abs(_scores(movie, version) - expected).max() < TOLERANCE


def version_set(movie) -> str:
    """The standard backbone set the movie's first analysis embedded (paper where its weights are, else offline)."""
    return MovieEmbedding.objects.exclude(backbone_set="published").get(movie=movie).backbone_set
