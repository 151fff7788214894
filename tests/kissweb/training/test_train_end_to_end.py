"""Issue 6 end to end on generated movies: upload, analyse (real offline embeddings), annotate through the API,
train through the API, activate (the library is re-scored), and find the scene in an unseen movie."""

from __future__ import annotations

import pytest

from kissweb.analysis import pipeline
from kissweb.analysis.models import Analysis, MovieEmbedding, ScoreTrack
from kissweb.training.tasks import training_task
from tests.kissweb.training.conftest import make_stretches_video

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

SCENE = ("red", 880)  # the "scene" is red frames with an 880 Hz tone; blue+220 Hz and green+440 Hz are not
BLUE, GREEN = ("blue", 220), ("green", 440)
TRAINING_MOVIES = [
    [(*SCENE, 16), (*BLUE, 14), (*GREEN, 12)],
    [(*BLUE, 12), (*SCENE, 15), (*GREEN, 14)],
    [(*GREEN, 13), (*BLUE, 12), (*SCENE, 16)],
]
# The gap between the two scenes is long enough that Algorithm 1 (share of scene seconds >= 0.7) keeps them apart.
UNSEEN = [(*BLUE, 11), (*SCENE, 17), (*GREEN, 16), (*SCENE, 14), (*BLUE, 6)]


def upload_and_analyse(client, path, title, capture):
    with path.open("rb") as handle, capture(execute=False):
        response = client.post("/api/movies/", {"file": handle, "title": title}, format="multipart")
    assert response.status_code == 201, response.json()
    movie_id = response.json()["id"]
    analysis = Analysis.objects.get(movie_id=movie_id, run__status="queued")
    assert pipeline.analysis_run(analysis_id=analysis.pk) == "succeeded", Analysis.objects.get(pk=analysis.pk).error
    return movie_id


def spans_of(stretches):
    start = 0
    for colour, tone, seconds in stretches:
        yield start, start + seconds, (colour, tone) == SCENE
        start += seconds


def test_a_model_trained_in_the_app_finds_the_scene_in_an_unseen_movie(
    staff_client, tmp_path, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    response = staff_client.post("/api/scene-types/", {"slug": "red-tone", "name": "Red with a high tone"}, format="json")
    assert response.status_code == 201, response.json()

    movie_ids = []
    for i, stretches in enumerate(TRAINING_MOVIES):
        path = make_stretches_video(tmp_path / f"train-{i}.mp4", stretches)
        movie_id = upload_and_analyse(staff_client, path, f"Training {i}", capture)
        movie_ids.append(movie_id)
        for start, end, positive in spans_of(stretches):
            response = staff_client.post(
                f"/api/movies/{movie_id}/annotations/",
                {"scene_type": "red-tone", "start_s": start, "end_s": end, "label": "positive" if positive else "negative"},
                format="json",
            )
            assert response.status_code == 201, response.json()
    assert MovieEmbedding.objects.filter(movie_id__in=movie_ids).count() == 3

    with capture(execute=False) as queued:
        response = staff_client.post("/api/scene-types/red-tone/train/")
    assert response.status_code == 202, response.json()
    assert len(queued) == 1
    run_id = response.json()["id"]
    assert training_task(run_id) == "succeeded"
    run = staff_client.get(f"/api/training-runs/{run_id}/").json()
    assert run["status"] == "succeeded" and run["n_spans"] == 9 and run["n_movies"] == 3
    assert run["metrics"]["f1"] >= 0.95, run["metrics"]

    listed = staff_client.get("/api/models/", {"scene_type": "red-tone"}).json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    row = next(r for r in rows if r["id"] == run["model_version"])
    assert row["status"] == "ready" and row["is_active"] is False
    assert row["metrics"]["f1"] >= 0.95 and row["metrics"]["n_spans"] == 9
    assert {"precision", "recall"} <= set(row["metrics"])

    with capture(execute=False):
        response = staff_client.post(f"/api/models/{run['model_version']}/activate/")
    assert response.status_code == 200, response.json()
    for analysis_id in response.json()["rescore"]["analysis_ids"]:
        assert pipeline.analysis_run(analysis_id=analysis_id) == "succeeded"
    rescored = ScoreTrack.objects.filter(model_version_id=run["model_version"]).values_list("movie_id", flat=True)
    assert set(rescored) == set(movie_ids), "activating re-scores every analysed movie"

    path = make_stretches_video(tmp_path / "unseen.mp4", UNSEEN)
    unseen_id = upload_and_analyse(staff_client, path, "Unseen", capture)
    segments = staff_client.get(f"/api/movies/{unseen_id}/segments/", {"scene_type": "red-tone"}).json()
    segments = segments["results"] if isinstance(segments, dict) else segments
    found = sorted((s["start_s"], s["end_s"]) for s in segments if s["source"] == "detected")
    expected = [(start, end) for start, end, positive in spans_of(UNSEEN) if positive]
    print(f"held-out metrics: {run['metrics']}\nunseen movie: found {found}, expected {expected}")
    assert len(found) == len(expected), (found, expected)
    for (start, end), (want_start, want_end) in zip(found, expected):
        assert abs(start - want_start) <= 1 and abs(end - want_end) <= 1, (found, expected)
