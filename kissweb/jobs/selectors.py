"""Reads of runs: one progress shape for any kind of run (the UI has one progress widget for all of them)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from kissweb import errors
from kissweb.jobs import conf
from kissweb.jobs.models import ACTIVE_RUN_STATUSES, Run, RunStatus

PROGRESS_FIELDS = (
    "id", "kind", "subject_type", "subject_id", "status", "attempts", "max_attempts", "progress", "eta_s", "stage",
    "heartbeat_at", "queued_at", "enqueued_at", "started_at", "finished_at", "cancel_requested", "error",
)


def run_get(*, run_id: int) -> Run:
    run = Run.objects.filter(pk=run_id).first()
    if run is None:
        raise errors.NotFound(f"There is no run {run_id}; finished runs are removed after a while, or it never existed.")
    return run


def run_waiting_for_worker(*, status: str, heartbeat_at, enqueued_at, queued_at, now=None) -> bool:
    """True when no worker is working on the run: running but silent, or queued long past its hand-over."""
    now = now or timezone.now()
    if status == RunStatus.RUNNING:
        return heartbeat_at is None or heartbeat_at < now - timedelta(seconds=conf.silent_after_s())
    if status == RunStatus.QUEUED:
        return (enqueued_at or queued_at) < now - timedelta(seconds=conf.stale_after_s())
    return False


def run_progress(row: dict | Run) -> dict:
    """The one API shape of a run's progress, from a Run or a `.values(*PROGRESS_FIELDS)` row."""
    get = row.get if isinstance(row, dict) else (lambda name: getattr(row, name))
    waiting = run_waiting_for_worker(
        status=get("status"), heartbeat_at=get("heartbeat_at"), enqueued_at=get("enqueued_at"),
        queued_at=get("queued_at"),
    )
    out = {name: get(name) for name in PROGRESS_FIELDS if name != "enqueued_at"}
    out["error"] = errors.without_paths(out["error"])  # server paths belong in the log, not in front of people
    out["waiting_for_worker"] = waiting
    if waiting:
        out["eta_s"] = None  # an ETA that stands still would mislead
    out["url"] = f"/api/runs/{out['id']}/"
    return out


def runs_active_by_lock(*, lock_keys: list[str]) -> dict[str, dict]:
    """Lock key -> progress of its queued or running run (one query; keys without one are absent)."""
    if not lock_keys:
        return {}
    rows = Run.objects.filter(lock_key__in=lock_keys, status__in=ACTIVE_RUN_STATUSES).values("lock_key", *PROGRESS_FIELDS)
    return {row["lock_key"]: run_progress(row) for row in rows}


def run_latest(*, kind: str, subject_id: int) -> Run | None:
    return Run.objects.filter(kind=kind, subject_id=subject_id).order_by("-queued_at", "-id").first()
