"""Cross-validated quality of the current labels: computed in a queued task, shown with what it rests on."""

from __future__ import annotations

import pytest

from kissweb.training import selectors, services
from kissweb.training.models import QualityEstimate
from tests.kissweb.training.conftest import annotate, movie_with_scenes

pytestmark = pytest.mark.django_db


@pytest.fixture
def six_movies(user, kissing):
    """Three movies mostly of the scene and three mostly of other things, every second labelled."""
    for seed in range(6):
        scene_s = 40 if seed < 3 else 10
        movie = movie_with_scenes(user, kinds=[0] * (60 - scene_s) + [1] * scene_s, seed=seed)
        annotate(movie, kissing, 0, 60 - scene_s, "negative", user)
        annotate(movie, kissing, 60 - scene_s, 60, "positive", user)


def test_cross_validation_over_movies_says_what_it_rests_on(six_movies, kissing):
    estimate = services.quality_estimate_compute(scene_type=kissing)

    assert (estimate.n_seconds, estimate.n_scene_seconds) == (360, 150)
    assert (estimate.n_movies, estimate.n_scene_movies, estimate.n_folds) == (6, 3, 5)
    assert estimate.enough and estimate.warnings == []
    # The synthetic scene seconds lie apart from the others: every fold's head finds them on unseen movies.
    assert estimate.metrics["f1"] > 0.9 and estimate.metrics["false_alarms_per_10_min"] < 30
    latest = selectors.quality_estimate_latest(scene_type=kissing)
    assert latest["current"] and latest["estimate"]["n_movies"] == 6


def test_a_figure_resting_on_too_few_movies_warns(labelled_library, kissing):
    estimate = services.quality_estimate_compute(scene_type=kissing)
    assert not estimate.enough
    assert any("rests on too few" in warning for warning in estimate.warnings)


def test_new_labels_make_the_figure_out_of_date(six_movies, kissing, user):
    services.quality_estimate_compute(scene_type=kissing)
    movie = movie_with_scenes(user, kinds=[0] * 30, seed=9)
    annotate(movie, kissing, 0, 30, "negative", user)
    assert selectors.quality_estimate_latest(scene_type=kissing)["current"] is False


def test_staff_queue_an_estimate_and_a_run_computes_it(staff_client, six_movies, kissing):
    response = staff_client.post("/api/scene-types/kissing/quality/")
    assert response.status_code == 202 and response.json()["status"] == "queued"
    again = staff_client.post("/api/scene-types/kissing/quality/")
    assert again.json()["id"] == response.json()["id"]  # one at a time: the same run
    assert staff_client.get("/api/scene-types/kissing/quality/").json()["estimate"] is None

    assert services.QualityRunner.execute(response.json()["id"]) == "succeeded"
    body = staff_client.get("/api/scene-types/kissing/quality/").json()
    assert body["current"] is True and body["estimate"]["n_seconds"] == 360 and body["estimate"]["enough"] is True


def test_too_few_labels_is_a_422_that_says_what_to_label(staff_client, user, kissing):
    movie = movie_with_scenes(user, kinds=[1] * 20, seed=1)
    annotate(movie, kissing, 0, 20, "positive", user)
    response = staff_client.post("/api/scene-types/kissing/quality/")
    assert response.status_code == 422
    assert "2 more negative spans" in response.json()["detail"] and response.json()["spans_needed"]["negative"] == 2
    assert not QualityEstimate.objects.exists()


def test_anyone_signed_in_reads_the_figure_only_staff_queue_it(api_client, other_client, anon_client, six_movies):
    assert api_client.get("/api/scene-types/kissing/quality/").status_code == 200
    assert other_client.get("/api/scene-types/kissing/quality/").status_code == 200
    assert api_client.post("/api/scene-types/kissing/quality/").status_code == 403
    assert anon_client.get("/api/scene-types/kissing/quality/").status_code in (401, 403)
    assert anon_client.post("/api/scene-types/kissing/quality/").status_code in (401, 403)
    assert api_client.get("/api/scene-types/nope/quality/").status_code == 404
