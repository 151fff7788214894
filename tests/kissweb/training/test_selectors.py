"""What to label next, and the precision people observed."""

from __future__ import annotations

import numpy as np
import pytest

from kissweb.analysis.models import ModelVersion, ScoreTrack
from kissweb.library.models import Annotation, Segment
from kissweb.training import selectors
from tests.kissweb.training.conftest import annotate, movie_make
from tests.runs import analysis_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def active(kissing):
    return ModelVersion.objects.create(scene_type=kissing, name="active one", backbone_set="offline", is_active=True)


def track(movie, kissing, version, scores):
    scores = np.asarray(scores, dtype="<f4")
    return ScoreTrack.objects.create(
        movie=movie, scene_type=kissing, model_version=version, scores=scores.tobytes(), n_windows=scores.size
    )


def detected(movie, kissing, version, start, end, confidence):
    analysis = analysis_create(movie=movie)
    return Segment.objects.create(movie=movie, scene_type=kissing, start_s=start, end_s=end, confidence=confidence,
                                  source="detected", analysis=analysis, model_version=version)


def test_unsure_spans_come_first_and_annotated_ones_are_left_out(user, kissing, active):
    movie = movie_make(user, duration_s=100)
    scores = np.full(100, 0.02)
    scores[10:20] = 0.5  # very unsure
    scores[40:46] = 0.62  # somewhat unsure
    scores[60:61] = 0.5  # one second: noise, not suggested
    scores[80:90] = 0.45  # unsure, but someone already labelled it
    track(movie, kissing, active, scores)
    annotate(movie, kissing, 85, 95, "negative", user)

    result = selectors.suggestion_list(scene_type=kissing)
    assert result["model_version"] == active.pk
    spans = [(r["start_s"], r["end_s"]) for r in result["results"]]
    assert spans == [(10.0, 20.0), (40.0, 46.0)]
    first = result["results"][0]
    assert first["kind"] == "unsure" and first["movie_id"] == movie.pk and "unsure" in first["why"]
    assert first["link"] == f"/movies/{movie.pk}/?t=10&annotate=1"
    assert first["movie_title"] == movie.title


def test_unreviewed_detections_are_suggested_reviewed_ones_not(user, kissing, active):
    movie = movie_make(user, duration_s=200)
    unsure = detected(movie, kissing, active, 10, 30, 0.55)
    sure = detected(movie, kissing, active, 50, 70, 0.97)
    reviewed = detected(movie, kissing, active, 100, 120, 0.6)
    Annotation.objects.create(movie=movie, scene_type=kissing, start_s=100, end_s=120, label="positive",
                              segment=reviewed, model_version=active, author=user)

    results = selectors.suggestion_list(scene_type=kissing)["results"]
    assert [r.get("segment_id") for r in results] == [unsure.pk, sure.pk]
    assert all(r["kind"] == "unreviewed" and "nobody has confirmed" in r["why"] for r in results)


def test_without_an_active_model_there_is_nothing_to_suggest_and_it_says_why(kissing):
    result = selectors.suggestion_list(scene_type=kissing)
    assert result["results"] == [] and "no active model" in result["detail"]


def test_suggestions_api_honours_limit(api_client, user, kissing, active):
    movie = movie_make(user, duration_s=100)
    scores = np.zeros(100)
    for start in range(0, 100, 10):
        scores[start:start + 3] = 0.5
    track(movie, kissing, active, scores)
    body = api_client.get("/api/scene-types/kissing/suggestions/?limit=4").json()
    assert len(body["results"]) == 4
    assert api_client.get("/api/scene-types/kissing/suggestions/?limit=x").status_code == 400


def test_observed_precision_counts_confirmations_and_rejections_per_version(user, kissing, active):
    movie = movie_make(user, duration_s=100)
    other = ModelVersion.objects.create(scene_type=kissing, name="other", backbone_set="offline")
    for label, version in [("positive", active), ("negative", active), ("negative", active), ("positive", other)]:
        Annotation.objects.create(movie=movie, scene_type=kissing, start_s=1, end_s=2, label=label,
                                  model_version=version, author=user)
    annotate(movie, kissing, 5, 9, "positive", user)  # a plain annotation reviews no model
    observed = selectors.observed_precision(model_version_ids=[active.pk, other.pk])
    assert observed[active.pk] == {"confirmed": 1, "rejected": 2, "precision": pytest.approx(1 / 3)}
    assert observed[other.pk] == {"confirmed": 1, "rejected": 0, "precision": 1.0}
