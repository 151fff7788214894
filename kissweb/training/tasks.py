"""Task-queue entry points (django-q2): thin, they call services."""

from __future__ import annotations

from kissweb.training.services import training_run, training_runs_fail_stale


def training_task(run_id: int) -> str:
    run = training_run(run_id=run_id)
    return run.status


def training_sweep_task() -> int:
    return training_runs_fail_stale()
