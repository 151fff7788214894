"""One sweeper for every kind of run, on every broker: a django-q2 schedule calls `run_sweep()` every minute, on the
housekeeping queue, whose worker runs nothing else (a long run on another queue cannot delay it).

- A running run whose heartbeat is older than the stale limit lost its worker (killed, out of memory, machine gone):
  it is queued again, or failed once its attempts are used up.
- A queued run whose task was handed to the broker longer ago than the stale limit, and that the broker does not
  show as waiting, lost its task (dropped between commit and enqueue, or refused by the worker because it could not
  read it, e.g. signed with another secret key): it is handed to the broker again. With the ORM and Redis brokers the
  waiting tasks are listed; with another broker every such run is handed over again, and the claim's attempt guard
  makes a second delivery harmless. So no run stays queued longer than the stale limit plus one sweep.
- Each kind's own housekeeping (`Runner.sweep`), e.g. removing expired exports.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from kissweb.jobs import conf
from kissweb.jobs.models import Run, RunStatus
from kissweb.jobs.queues import HOUSEKEEPING, cluster_of, queue_names
from kissweb.jobs.runner import SubjectGone, run_enqueue, runner_for, runners, task_name

log = logging.getLogger(__name__)

SWEEP_TASK = "kissweb.jobs.tasks.sweep_task"
SWEEPER_SCHEDULE_NAME = "kissweb: re-queue stalled and lost runs"
# The schedules that swept analyses and training runs separately before the job runner.
RETIRED_SCHEDULES = ("kissweb: re-queue or fail stalled analyses", "kissweb-training-sweeper")


def broker_task_names() -> set[str] | None:
    """Names of the tasks waiting in the broker, on every queue, or None when this broker cannot be listed."""
    from django_q.brokers import get_broker
    from django_q.brokers.orm import ORM
    from django_q.brokers.redis_broker import Redis
    from django_q.signing import SignedPackage

    payloads = []
    for queue in queue_names():
        broker = get_broker(cluster_of(queue))
        if isinstance(broker, ORM):
            from django_q.models import OrmQ

            payloads += OrmQ.objects.filter(key=broker.list_key).values_list("payload", flat=True)
        elif isinstance(broker, Redis):
            payloads += broker.connection.lrange(broker.list_key, 0, -1)
        else:
            return None
    names = set()
    for payload in payloads:
        try:
            names.add(SignedPackage.loads(payload)["name"])
        except Exception:  # noqa: BLE001 - an unreadable task is dropped by the worker; its run counts as lost
            continue
    return names


def _requeue_stale(run: Run, *, now, age_s: int) -> str:
    runner = runner_for(run.kind)
    try:
        if run.cancel_requested:
            Run.objects.filter(pk=run.pk).update(status=RunStatus.CANCELLED, finished_at=now, stage="cancelled",
                                                 eta_s=None)
            runner.mirror(run_id=run.pk, subject_id=run.subject_id, status=RunStatus.CANCELLED, fields={"eta_s": None, "error": ""})
            return "cancelled"
        if run.attempts >= run.max_attempts:
            reason = (
                f"{runner.title} gave up after {run.attempts} attempts: the worker stopped reporting progress {age_s} s "
                f"ago (killed, out of memory, or the machine restarted). {runner.give_up_hint}"
            )
            Run.objects.filter(pk=run.pk).update(status=RunStatus.FAILED, error=reason, finished_at=now,
                                                 stage="failed", eta_s=None)
            runner.mirror(run_id=run.pk, subject_id=run.subject_id, status=RunStatus.FAILED, fields={"eta_s": None, "error": reason})
            return "failed"
        Run.objects.filter(pk=run.pk).update(
            status=RunStatus.QUEUED, stage="re-queued: the worker stopped responding", eta_s=None, enqueued_at=now,
            error=f"Attempt {run.attempts} of {run.max_attempts} stopped reporting progress {age_s} s ago; queued "
            "again.",
        )
        runner.mirror(run_id=run.pk, subject_id=run.subject_id, status=RunStatus.QUEUED, fields={"eta_s": None})
    except SubjectGone:
        return "gone"
    transaction.on_commit(lambda: run_enqueue(run_id=run.pk))
    return "requeued"


def run_sweep() -> dict:
    """Queue again (or fail) runs whose worker stopped reporting, and hand lost queued runs to the broker again."""
    now = timezone.now()
    stale_before = now - timedelta(seconds=conf.stale_after_s())
    report: dict[str, list[int]] = {"requeued": [], "failed": [], "cancelled": [], "lost": []}
    stale = Run.objects.filter(status=RunStatus.RUNNING, heartbeat_at__lt=stale_before)
    for run_id in stale.values_list("pk", flat=True):
        with transaction.atomic():
            run = (
                Run.objects.select_for_update(skip_locked=True)
                .filter(pk=run_id, status=RunStatus.RUNNING, heartbeat_at__lt=stale_before)
                .first()
            )
            if run is None:
                continue
            outcome = _requeue_stale(run, now=now, age_s=int((now - run.heartbeat_at).total_seconds()))
            report.setdefault(outcome, []).append(run.pk)

    waiting = Run.objects.filter(status=RunStatus.QUEUED).filter(
        Q(enqueued_at__lt=stale_before) | Q(enqueued_at__isnull=True, queued_at__lt=stale_before)
    )
    rows = list(waiting.values_list("pk", "kind"))
    if rows:
        visible = broker_task_names()
        for pk, kind in rows:
            if visible is not None and task_name(kind=kind, run_id=pk) in visible:
                continue
            if Run.objects.filter(pk=pk, status=RunStatus.QUEUED).update(enqueued_at=timezone.now()):
                run_enqueue(run_id=pk)
                report["lost"].append(pk)
    if any(report.values()):
        log.warning("sweeper: %s", {k: v for k, v in report.items() if v})
    for kind, runner in sorted(runners().items()):
        try:
            done = runner.sweep()
        except Exception:  # one kind's housekeeping must not stop the others' (nor the next round)
            log.exception("sweeper: the housekeeping of %s runs failed", kind)
            continue
        if done:
            report[kind] = done
    return report


def sweeper_schedule_ensure() -> None:
    """Create or update the sweeper's django-q2 schedule (idempotent; called after every migrate). It belongs to the
    housekeeping queue, whose worker runs nothing else, so a six-hour analysis on the work queue cannot hold up the
    recovery of lost runs or the expiry of exports."""
    from django_q.models import Schedule

    Schedule.objects.filter(name__in=RETIRED_SCHEDULES).delete()
    Schedule.objects.update_or_create(
        name=SWEEPER_SCHEDULE_NAME,
        defaults={
            "func": SWEEP_TASK, "schedule_type": Schedule.MINUTES, "minutes": conf.sweep_every_minutes(),
            "repeats": -1, "cluster": cluster_of(HOUSEKEEPING),
        },
    )
