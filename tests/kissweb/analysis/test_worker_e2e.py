"""End to end with the real detector and a real `manage.py qcluster` worker on the test database.

Upload a generated movie through the API, watch its progress rise until it is ready, read scores and segments;
activate a model trained on generated clips and see its segments appear at the right seconds without decoding the
video again; kill -9 the worker in the middle of an analysis and see the analysis finish exactly once.
The scene in the generated movies is red + 880 Hz; everything else is blue or green with 220 Hz.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from tests.qcluster import qcluster, wait_for  # noqa: F401 - fixture

pytestmark = pytest.mark.slow

SCENE_START_S, SCENE_END_S = 12, 26
MOVIE_S = 120  # long enough that progress is seen moving between 0 and 1


@pytest.fixture(scope="module")
def scene_model_file(tmp_path_factory) -> Path:
    """A kissing model trained with detector.train_head on embeddings of generated clips (offline backbones)."""
    import detector
    from tests.detector.media import make_training_clips

    folder = tmp_path_factory.mktemp("training")
    csv_path = make_training_clips(folder, per_class=5, duration_s=4.0)
    xs, ys, gs = [], [], []
    for group, line in enumerate(csv_path.read_text().splitlines()[1:]):
        name, label = line.split(",")
        features = detector.embed_video(folder / name, backbones="offline").features()
        xs.append(features)
        ys.append(np.full(len(features), int(label)))
        gs.append(np.full(len(features), group))
    model, metrics = detector.train_head(
        np.concatenate(xs), np.concatenate(ys), np.concatenate(gs), backbone_set="offline", scene_type="kissing",
        epochs=30, lr=1e-2,
    )
    return detector.save_model(model, folder / "kissing.safetensors")


@pytest.fixture(scope="module")
def scene_movie(tmp_path_factory) -> Path:
    from tests.detector.media import make_movie

    folder = tmp_path_factory.mktemp("movie")
    return make_movie(
        folder / "scene.mp4",
        [("blue", 220, SCENE_START_S), ("red", 880, SCENE_END_S - SCENE_START_S), ("green", 220, MOVIE_S - SCENE_END_S)],
    )


def _upload(client, path: Path, title: str) -> int:
    with open(path, "rb") as handle:
        response = client.post("/api/movies/", {"file": handle, "title": title}, format="multipart")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def _client(user):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user=user)
    return client


def _detected(movie_id):
    from kissweb.library.models import Segment

    return list(
        Segment.objects.filter(movie_id=movie_id, source="detected").values_list("start_s", "end_s", "analysis_id")
    )


@pytest.mark.django_db(transaction=True)
def test_upload_analyse_then_activate_a_model_without_decoding_again(
    qcluster, settings, user, staff_user, kissing, scene_movie, scene_model_file  # noqa: F811
):
    from kissweb.analysis.models import Analysis, MovieEmbedding
    from kissweb.library.models import Movie

    qcluster(timeout_s=300, retry_s=330)
    client = _client(user)
    movie_id = _upload(client, scene_movie, "Generated scene")

    progress_seen = []

    def ready():
        movie = Movie.objects.get(pk=movie_id)
        progress_seen.append((movie.status, movie.progress))
        return movie.status in ("ready", "failed") and movie

    movie = wait_for(ready, timeout_s=300, interval_s=0.1, what="the movie to be analysed")
    assert movie.status == "ready", movie.error
    assert any(status == "analyzing" and 0 < p < 1 for status, p in progress_seen), progress_seen
    analysing = [p for status, p in progress_seen if status == "analyzing"]
    assert analysing == sorted(analysing)

    analysis = Analysis.objects.get(movie_id=movie_id)
    assert analysis.status == "succeeded" and analysis.attempts == 1 and analysis.backbone_set in ("offline", "paper")
    assert {"embed", "write", "total"} <= set(analysis.timings_s)
    assert MovieEmbedding.objects.filter(movie_id=movie_id).count() == 1
    no_model = client.get(f"/api/movies/{movie_id}/scores/?scene_type=kissing")
    assert no_model.status_code == 404 and "No model" in no_model.json()["detail"]

    # Activate a trained model; the re-score must not read the video, so take the video away.
    video = Path(settings.MEDIA_ROOT) / movie.file.name
    hidden = video.with_name(video.name + ".hidden")
    os.replace(video, hidden)
    try:
        staff = _client(staff_user)
        with open(scene_model_file, "rb") as handle:
            created = staff.post("/api/scene-types/kissing/models/", {"file": handle, "name": "e2e"}, format="multipart")
        assert created.status_code == 201, created.content
        if analysis.backbone_set != "offline":
            pytest.skip("the paper backbones are installed here; this check is about re-scoring offline embeddings")
        activated = staff.post(f"/api/models/{created.json()['id']}/activate/")
        assert activated.status_code == 200 and activated.json()["rescore"]["rescore"] == 1

        def rescored():
            latest = Analysis.objects.filter(movie_id=movie_id).order_by("-pk").first()
            return latest.kind == "rescore" and latest.status in ("succeeded", "failed") and latest

        rescore = wait_for(rescored, timeout_s=120, what="the re-score")
        assert rescore.status == "succeeded", rescore.error
        assert "embed" not in rescore.timings_s and "load_embeddings" in rescore.timings_s
    finally:
        os.replace(hidden, video)

    scores = client.get(f"/api/movies/{movie_id}/scores/?scene_type=kissing").json()
    assert scores["window_s"] == 1.0 and len(scores["scores"]) == MOVIE_S
    assert np.mean(scores["scores"][SCENE_START_S + 1 : SCENE_END_S - 1]) > 0.9
    assert np.mean(scores["scores"][: SCENE_START_S - 1] + scores["scores"][SCENE_END_S + 1 :]) < 0.1
    [(start, end, _)] = _detected(movie_id)
    assert abs(start - SCENE_START_S) <= 1 and abs(end - SCENE_END_S) <= 1
    segments = client.get(f"/api/movies/{movie_id}/segments/?scene_type=kissing")
    assert segments.status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_analysis_is_replaced_and_the_analysis_finishes_once(
    qcluster, settings, user, kissing, scene_model_file, tmp_path  # noqa: F811
):
    from kissweb.analysis.services import model_version_activate, model_version_create
    from kissweb.analysis.models import Analysis, MovieEmbedding
    from kissweb.library.models import Movie
    from tests.detector.media import make_movie

    model_version_activate(model_version=model_version_create(scene_type=kissing, file=scene_model_file))
    # Long enough that the kill lands while embedding; the scene sits at the same seconds.
    movie_path = make_movie(
        tmp_path / "long.mp4",
        [("blue", 220, SCENE_START_S), ("red", 880, SCENE_END_S - SCENE_START_S), ("green", 220, 160 - SCENE_END_S)],
    )
    retry_s = 100
    worker = qcluster(timeout_s=90, retry_s=retry_s, extra_env={"KISSWEB_ANALYSIS_STALE_S": "8"})
    movie_id = _upload(_client(user), movie_path, "Killed mid-run")
    analysis = Analysis.objects.get(movie_id=movie_id)

    wait_for(lambda: Movie.objects.get(pk=movie_id).progress > 0.02, timeout_s=120, interval_s=0.1,
             what="the analysis to start embedding")
    killed = worker.kill_processing(f"analyze-{analysis.run_id}")

    def finished():
        a = Analysis.objects.get(pk=analysis.pk)
        return a.status in ("succeeded", "failed") and a

    done = wait_for(finished, timeout_s=retry_s + 200, interval_s=0.5, what="the analysis after the kill")
    assert done.status == "succeeded", done.error
    assert done.attempts == 2
    assert set(worker.ready_workers().values()) - {killed}, "the cluster did not start a new worker"
    assert Movie.objects.get(pk=movie_id).status == "ready"
    detected = _detected(movie_id)
    assert len(detected) == 1 and {a for _, _, a in detected} == {analysis.pk}
    (start, end, _) = detected[0]
    assert abs(start - SCENE_START_S) <= 1 and abs(end - SCENE_END_S) <= 1
    assert MovieEmbedding.objects.filter(movie_id=movie_id).count() == 1
    embeddings_dir = Path(settings.MEDIA_ROOT) / "embeddings"
    assert len([p for p in embeddings_dir.iterdir() if p.name.startswith(f"movie-{movie_id}-")]) == 1
    assert Analysis.objects.filter(movie_id=movie_id).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_truncated_file_fails_once_with_a_clear_reason(qcluster, settings, make_movie, kissing):  # noqa: F811
    from django_q.models import Task

    from kissweb.analysis.services import analysis_request
    from kissweb.analysis.models import Analysis
    from kissweb.library.models import Movie

    movie = make_movie(duration_s=4.0)
    video = Path(settings.MEDIA_ROOT) / movie.file.name
    video.write_bytes(video.read_bytes()[: video.stat().st_size // 3])
    qcluster(timeout_s=120, retry_s=150)
    analysis = analysis_request(movie=movie)

    movie = wait_for(lambda: (m := Movie.objects.get(pk=movie.pk)).status == "failed" and m, timeout_s=120,
                     what="the movie to fail")
    assert "cannot be decoded" in movie.error and movie.file.name.split("/")[-1] in movie.error
    wait_for(lambda: Task.objects.filter(name=f"analyze-{analysis.run_id}").exists(), timeout_s=30, what="task result")
    analysis.refresh_from_db()
    assert analysis.status == "failed" and analysis.attempts == 1
    assert Task.objects.filter(name=f"analyze-{analysis.run_id}").count() == 1
    assert video.exists() and Analysis.objects.filter(movie=movie).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_movie_deleted_through_the_api_mid_analysis_leaves_nothing(qcluster, settings, user, kissing,  # noqa: F811
                                                                     tmp_path):
    from django_q.models import Task

    from kissweb.analysis.models import Analysis, MovieEmbedding, ScoreTrack
    from kissweb.library.models import Movie, Segment
    from tests.detector.media import make_movie

    movie_path = make_movie(tmp_path / "doomed.mp4", [("blue", 220, 60), ("red", 880, 60)])
    qcluster(timeout_s=120, retry_s=150)
    client = _client(user)
    movie_id = _upload(client, movie_path, "Deleted while analysed")
    run_id = Analysis.objects.get(movie_id=movie_id).run_id
    movie = Movie.objects.get(pk=movie_id)
    media = Path(settings.MEDIA_ROOT)
    own_files = [media / movie.file.name, media / movie.poster.name]
    assert all(path.is_file() for path in own_files)
    wait_for(lambda: Movie.objects.get(pk=movie_id).progress > 0.02, timeout_s=120, interval_s=0.1,
             what="the analysis to start embedding")

    assert client.delete(f"/api/movies/{movie_id}/").status_code == 204

    task = wait_for(lambda: Task.objects.filter(name=f"analyze-{run_id}").first(), timeout_s=120,
                    what="the task to stop")
    assert task.success and task.result == "gone"
    for model in (Movie, Analysis, MovieEmbedding, ScoreTrack, Segment):
        assert not model.objects.filter(**({"pk": movie_id} if model is Movie else {"movie_id": movie_id})).exists()
    left = [p for p in own_files if p.exists()]
    left += list((media / "embeddings").glob(f"movie-{movie_id}-*")) + list(media.glob(f"thumbs/{movie_id}"))
    assert left == [], left


@pytest.mark.django_db(transaction=True)
def test_the_database_connection_lost_mid_run_is_retried_and_finishes(qcluster, user, kissing,  # noqa: F811
                                                                     tmp_path):
    from django.db import connection

    from kissweb.analysis.models import Analysis
    from kissweb.library.models import Movie
    from tests.detector.media import make_movie

    movie_path = make_movie(tmp_path / "flaky.mp4", [("blue", 220, 60), ("red", 880, 60)])
    qcluster(timeout_s=120, retry_s=150)
    movie_id = _upload(_client(user), movie_path, "Database went away")
    wait_for(lambda: Movie.objects.get(pk=movie_id).progress > 0.02, timeout_s=120, interval_s=0.1,
             what="the analysis to start embedding")

    with connection.cursor() as cur:  # what a database restart does to the worker's connections
        cur.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        assert cur.fetchone()[0] >= 1

    def finished():
        a = Analysis.objects.get(movie_id=movie_id)
        return a.status in ("succeeded", "failed") and a

    analysis = wait_for(finished, timeout_s=240, interval_s=0.5, what="the analysis after the connection loss")
    assert analysis.status == "succeeded", analysis.error
    assert analysis.attempts == 2
    assert Movie.objects.get(pk=movie_id).status == "ready"


@pytest.mark.django_db(transaction=True)
def test_the_sweeper_schedule_revives_an_analysis_whose_worker_vanished(qcluster, make_movie, kissing):  # noqa: F811
    """...even while the only worker of the work queue is busy with a long task: the sweeper has a queue and a
    worker of its own (before, it waited behind whatever the work queue was doing, up to 6 hours)."""
    from datetime import timedelta

    from django.utils import timezone
    from django_q.models import OrmQ, Schedule, Task
    from django_q.tasks import async_task

    from kissweb.jobs.models import Run
    from kissweb.jobs.sweeper import SWEEPER_SCHEDULE_NAME
    from kissweb.analysis.models import Analysis
    from kissweb.library.models import Movie
    from tests.runs import analysis_create

    assert Schedule.objects.filter(name=SWEEPER_SCHEDULE_NAME).exists()
    movie = make_movie(duration_s=4.0)
    # A worker claimed it, then its machine died: running, silent for 10 minutes, no task left in the queue.
    long_ago = timezone.now() - timedelta(minutes=10)
    analysis = analysis_create(movie=movie, status="running",
                               run_fields={"attempts": 1, "heartbeat_at": long_ago, "started_at": long_ago})
    Movie.objects.filter(pk=movie.pk).update(status="analyzing")
    assert not OrmQ.objects.exists()
    env = {"KISSWEB_ANALYSIS_STALE_S": "60"}
    async_task("time.sleep", 100, task_name="a-long-task", timeout=140)  # the work queue's only worker is busy
    qcluster(timeout_s=150, retry_s=180, extra_env=env)
    qcluster(timeout_s=150, retry_s=180, extra_env={**env, "KISSWEB_WORKER_QUEUE": "housekeeping"})

    def requeued():
        return Run.objects.filter(pk=analysis.run_id, attempts=1, status="queued").exists()

    wait_for(requeued, timeout_s=80, interval_s=0.5, what="the sweeper to re-queue the analysis")
    assert not Task.objects.filter(name="a-long-task").exists(), "the long task was still running"

    def finished():
        a = Analysis.objects.get(pk=analysis.pk)
        return a.status in ("succeeded", "failed") and a

    done = wait_for(finished, timeout_s=180, interval_s=1, what="the sweeper to re-queue the analysis")
    assert done.status == "succeeded", done.error
    assert done.attempts == 2
    assert Movie.objects.get(pk=movie.pk).status == "ready"
