"""Existing Analysis and TrainingRun rows become Runs with nothing lost, and the reverse gives them back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

pytestmark = pytest.mark.slow  # migrates the test database back and forth (about half a minute)

BEFORE = [("library", "0009_backbone_digest"), ("training", "0002_quality_estimate")]
AFTER = [("library", "0010_analysis_run"), ("training", "0003_trainingrun_run")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def _migrate_to_latest():
    """Leave the database as the rest of the suite expects it: every app at its newest migration."""
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_analyses_and_training_runs_move_to_runs_and_back(django_user_model):
    try:
        apps = _migrate(BEFORE)
        User = apps.get_model("auth", "User")
        Movie = apps.get_model("library", "Movie")
        SceneType = apps.get_model("library", "SceneType")
        Analysis = apps.get_model("library", "Analysis")
        TrainingRun = apps.get_model("training", "TrainingRun")
        user = User.objects.create(username="old-timer")
        movie = Movie.objects.create(
            title="Old", original_filename="old.mp4", file="movies/old.mp4", size_bytes=1, sha256="b" * 64,
            duration_s=60.0, width=320, height=240, has_audio=True, uploaded_by=user,
        )
        scene_type, _ = SceneType.objects.get_or_create(slug="kissing", defaults={"name": "Kissing"})
        t0 = timezone.now() - timedelta(hours=2)
        done = Analysis.objects.create(
            movie=movie, kind="analyze", status="succeeded", attempts=2, progress=1.0, stage="done", eta_s=0.0,
            heartbeat_at=t0, started_at=t0, finished_at=t0 + timedelta(minutes=3), timings_s={"embed": 12.5},
            backbone_set="offline", changes={"kissing": {"added": [[1.0, 12.0]]}}, task_id="abc", error="",
        )
        failed = Analysis.objects.create(movie=movie, kind="rescore", status="failed", attempts=3, error="",
                                         started_at=t0)
        running = Analysis.objects.create(movie=movie, kind="rescore", status="running", attempts=1,
                                          progress=0.4, stage="embedding", heartbeat_at=t0, started_at=t0)
        Analysis.objects.filter(pk=done.pk).update(queued_at=t0 - timedelta(minutes=1))
        trained = TrainingRun.objects.create(
            scene_type=scene_type, status="succeeded", stage="done", progress=1.0, started_at=t0,
            finished_at=t0 + timedelta(seconds=9), heartbeat_at=t0, n_spans=12, n_movies=2, n_seconds=300,
            timings_s={"train": 2.0}, requested_by=user, error="",
            model_version=apps.get_model("library", "ModelVersion").objects.create(
                scene_type=scene_type, name="v1", backbone_set="offline", backbone_digest="c" * 64
            ),
        )
        broken = TrainingRun.objects.create(scene_type=scene_type, status="failed", error="NaN in the features")

        apps = _migrate(AFTER)
        Run = apps.get_model("jobs", "Run")
        Analysis = apps.get_model("library", "Analysis")
        TrainingRun = apps.get_model("training", "TrainingRun")
        run = Run.objects.get(analysis__pk=done.pk)
        assert (run.kind, run.subject_type, run.subject_id, run.lock_key) == ("analyze", "movie", movie.pk,
                                                                              f"movie:{movie.pk}")
        assert (run.status, run.attempts, run.progress, run.stage, run.task_id) == ("succeeded", 2, 1.0, "done", "abc")
        assert run.queued_at == t0 - timedelta(minutes=1) and run.finished_at == t0 + timedelta(minutes=3)
        kept = Analysis.objects.get(pk=done.pk)
        assert kept.timings_s == {"embed": 12.5} and kept.changes == {"kissing": {"added": [[1.0, 12.0]]}}
        assert Run.objects.get(analysis__pk=failed.pk).error  # a failed run always says something
        live = Run.objects.get(analysis__pk=running.pk)
        assert (live.status, live.progress, live.stage) == ("running", 0.4, "embedding")
        training = Run.objects.get(training__pk=trained.pk)
        assert (training.kind, training.status, training.requested_by_id) == ("training", "succeeded", user.pk)
        assert TrainingRun.objects.get(pk=trained.pk).n_spans == 12
        assert Run.objects.get(training__pk=broken.pk).error == "NaN in the features"
        assert Run.objects.create(kind="analyze", subject_type="movie", subject_id=999, lock_key="movie:999").pk > max(
            done.pk, failed.pk, running.pk
        )  # the id sequence continues after the copied ids

        apps = _migrate(BEFORE)
        Analysis = apps.get_model("library", "Analysis")
        TrainingRun = apps.get_model("training", "TrainingRun")
        back = Analysis.objects.get(pk=done.pk)
        assert (back.status, back.attempts, back.task_id, back.queued_at) == ("succeeded", 2, "abc",
                                                                              t0 - timedelta(minutes=1))
        assert Analysis.objects.get(pk=running.pk).stage == "embedding"
        assert TrainingRun.objects.get(pk=broken.pk).error == "NaN in the features"
    finally:
        _migrate_to_latest()
