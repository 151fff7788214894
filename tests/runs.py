"""Rows of finished or running work for tests that need them without running a worker: a Run (kissweb.jobs) in the
given state, and the Analysis or TrainingRun that points at it."""

from __future__ import annotations

from django.utils import timezone

from kissweb.jobs.models import FINISHED_RUN_STATUSES, Run, RunStatus


def run_create(*, kind: str, subject_type: str, subject_id: int, lock_key: str, status: str = RunStatus.SUCCEEDED,
               **fields) -> Run:
    now = timezone.now()
    defaults = {"progress": 1.0 if status == RunStatus.SUCCEEDED else 0.0}
    if status in FINISHED_RUN_STATUSES:
        defaults.update(finished_at=now, started_at=now, attempts=1)
    if status == RunStatus.RUNNING:
        defaults.update(heartbeat_at=now, started_at=now, attempts=1)
    if status == RunStatus.FAILED:
        defaults["error"] = "failed in a test"
    return Run.objects.create(kind=kind, subject_type=subject_type, subject_id=subject_id, lock_key=lock_key,
                              status=status, **{**defaults, **fields})


def analysis_create(*, movie, status: str = RunStatus.SUCCEEDED, kind: str = "analyze", run_fields=None, **fields):
    from kissweb.analysis.models import Analysis

    run = run_create(kind=kind, subject_type="movie", subject_id=movie.pk, lock_key=f"movie:{movie.pk}",
                     status=status, **(run_fields or {}))
    return Analysis.objects.create(run=run, movie=movie, **fields)


def training_create(*, scene_type, status: str = RunStatus.SUCCEEDED, run_fields=None, **fields):
    from kissweb.training.models import TrainingRun

    run = run_create(kind="training", subject_type="scene_type", subject_id=scene_type.pk,
                     lock_key=f"training:scene_type:{scene_type.pk}", status=status, **(run_fields or {}))
    return TrainingRun.objects.create(run=run, scene_type=scene_type, **fields)
