"""One API shape for any run's progress; a silent worker shows as "waiting for a worker" (fault 11)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from kissweb.jobs import conf
from kissweb.jobs.models import Run
from tests.kissweb.analysis.conftest import kissing, make_movie, media_root  # noqa: F401 - fixtures
from tests.runs import analysis_create, training_create

pytestmark = pytest.mark.django_db

SHAPE = {
    "id", "url", "kind", "subject_type", "subject_id", "status", "attempts", "max_attempts", "progress", "eta_s",
    "stage", "waiting_for_worker", "heartbeat_at", "queued_at", "started_at", "finished_at", "cancel_requested",
    "error",
}


def _analysing(movie, *, heartbeat_at):
    movie.__class__.objects.filter(pk=movie.pk).update(status="analyzing", progress=0.24, eta_s=16)
    return analysis_create(movie=movie, status="running", run_fields={
        "progress": 0.24, "eta_s": 16.0, "stage": "embedding", "heartbeat_at": heartbeat_at,
        "started_at": heartbeat_at,
    })


def test_every_kind_of_run_has_the_same_progress_shape(api_client, make_movie, kissing):
    analysis = _analysing(make_movie(), heartbeat_at=timezone.now())
    training = training_create(scene_type=kissing, status="queued")
    shapes = [
        api_client.get(f"/api/runs/{analysis.run_id}/").json(),
        api_client.get(f"/api/analyses/{analysis.pk}/").json()["run"],
        api_client.get(f"/api/movies/{analysis.movie_id}/").json()["run"],
        api_client.get(f"/api/training-runs/{training.pk}/").json()["run"],
    ]
    assert all(set(shape) == SHAPE for shape in shapes)
    assert shapes[0] == shapes[1] == shapes[2]
    assert (shapes[0]["kind"], shapes[0]["progress"], shapes[0]["stage"]) == ("analyze", 0.24, "embedding")
    assert shapes[3]["kind"] == "training" and shapes[3]["url"] == f"/api/runs/{training.run_id}/"


def test_a_run_whose_heartbeat_went_stale_says_it_waits_for_a_worker(api_client, make_movie):
    """The movie page showed "analysing 24 %, 16 s left" unchanged after its worker was killed."""
    alive = _analysing(make_movie(title="alive"), heartbeat_at=timezone.now())
    dead = _analysing(make_movie(title="dead"), heartbeat_at=timezone.now() - timedelta(seconds=conf.silent_after_s() + 1))

    shown = {row["title"]: row["run"] for row in api_client.get("/api/movies/").json()["results"]}
    assert shown["alive"]["waiting_for_worker"] is False and shown["alive"]["eta_s"] == 16.0
    assert shown["dead"]["waiting_for_worker"] is True and shown["dead"]["eta_s"] is None
    assert api_client.get(f"/api/movies/{dead.movie_id}/").json()["run"]["waiting_for_worker"] is True
    assert conf.silent_after_s() < conf.stale_after_s()  # people learn it well before the sweeper acts


def test_a_movie_that_is_not_busy_shows_no_run(api_client, make_movie):
    movie = make_movie()
    analysis_create(movie=movie)
    assert api_client.get(f"/api/movies/{movie.pk}/").json()["run"] is None


def test_who_asked_for_a_run_or_staff_may_cancel_it_and_others_may_not(api_client, other_client, staff_client,
                                                                       make_movie, user):
    analysis = analysis_create(movie=make_movie(), status="queued", run_fields={"requested_by": user})
    assert other_client.post(f"/api/runs/{analysis.run_id}/cancel/").status_code == 403
    cancelled = api_client.post(f"/api/runs/{analysis.run_id}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert Run.objects.get(pk=analysis.run_id).status == "cancelled"
    running = analysis_create(movie=make_movie(), status="running")
    response = staff_client.post(f"/api/runs/{running.run_id}/cancel/")
    assert response.json()["cancel_requested"] is True and response.json()["status"] == "running"


def test_a_run_is_seen_by_staff_who_asked_for_it_and_the_owner_of_its_movie_only(
        api_client, other_client, staff_client, anon_client, make_movie, user, staff_user, kissing):
    """GET /api/runs/{id} showed any run (its kind, stage, error) to any signed-in person."""
    asked = analysis_create(movie=make_movie(), status="running", run_fields={"requested_by": user})
    rescore = analysis_create(movie=make_movie(), status="queued", kind="rescore",
                              run_fields={"requested_by": staff_user})  # staff re-scores alice's movie
    training = training_create(scene_type=kissing, status="running", run_fields={"requested_by": staff_user})
    for run_id in (asked.run_id, rescore.run_id):
        assert api_client.get(f"/api/runs/{run_id}/").status_code == 200
        assert staff_client.get(f"/api/runs/{run_id}/").status_code == 200
        refused = other_client.get(f"/api/runs/{run_id}/")
        assert refused.status_code == 403 and "or staff, can see it" in refused.json()["detail"]
    assert staff_client.get(f"/api/runs/{training.run_id}/").status_code == 200
    assert api_client.get(f"/api/runs/{training.run_id}/").status_code == 403
    assert anon_client.get(f"/api/runs/{asked.run_id}/").status_code in (401, 403)


def test_the_uploader_may_cancel_a_re_score_of_their_movie_that_staff_started(
        api_client, other_client, make_movie, staff_user):
    rescore = analysis_create(movie=make_movie(), status="queued", kind="rescore",
                              run_fields={"requested_by": staff_user})
    assert other_client.post(f"/api/runs/{rescore.run_id}/cancel/").status_code == 403
    cancelled = api_client.post(f"/api/runs/{rescore.run_id}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"


def test_a_second_analysis_request_answers_409_with_the_run_in_progress(api_client, make_movie):
    movie = make_movie()
    first = api_client.post(f"/api/movies/{movie.pk}/analyze/")
    assert first.status_code == 202
    again = api_client.post(f"/api/movies/{movie.pk}/analyze/")
    assert again.status_code == 409 and again.json()["run"]["id"] == first.json()["run"]["id"]
