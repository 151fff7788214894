"""The one sweeper: stale running runs and lost queued runs, on the ORM broker and on Redis."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from kissweb.jobs import conf
from kissweb.jobs.models import Run
from kissweb.jobs.sweeper import SWEEP_TASK, SWEEPER_SCHEDULE_NAME, broker_task_names, run_sweep, sweeper_schedule_ensure
from tests.kissweb.jobs.test_runner import CountingRunner
from tests.redisq import redis_broker, redis_queue  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


def _stale(extra_s: int = 5):
    return timezone.now() - timedelta(seconds=conf.stale_after_s() + extra_s)


def _running(*, attempts: int, heartbeat_at) -> Run:
    run = CountingRunner.request(subject_id=1)
    Run.objects.filter(pk=run.pk).update(status="running", attempts=attempts, heartbeat_at=heartbeat_at,
                                         started_at=heartbeat_at)
    return run


def _orm_task_names():
    from django_q.models import OrmQ

    return sorted(task.name() for task in OrmQ.objects.all())


def test_a_silent_running_run_is_queued_again(django_capture_on_commit_callbacks):
    run = _running(attempts=1, heartbeat_at=_stale())
    with django_capture_on_commit_callbacks(execute=True):
        report = run_sweep()
    row = Run.objects.get(pk=run.pk)
    assert report["requeued"] == [run.pk] and row.status == "queued" and row.attempts == 1
    assert "stopped reporting progress" in row.error
    assert _orm_task_names() == [f"test-counting-{run.pk}"]
    assert CountingRunner.execute(run.pk) == "succeeded" and Run.objects.get(pk=run.pk).attempts == 2


def test_a_silent_run_on_its_last_attempt_fails_with_the_reason():
    run = _running(attempts=3, heartbeat_at=_stale())
    assert run_sweep()["failed"] == [run.pk]
    row = Run.objects.get(pk=run.pk)
    assert row.status == "failed" and "gave up after 3 attempts" in row.error and row.finished_at


def test_a_live_run_is_left_alone():
    _running(attempts=1, heartbeat_at=timezone.now())
    assert not any(run_sweep().values())


def test_a_queued_run_whose_task_was_lost_is_handed_over_again_once():
    run = CountingRunner.request(subject_id=1)  # on_commit never runs here: the task is "lost"
    Run.objects.filter(pk=run.pk).update(queued_at=_stale(), enqueued_at=_stale())
    assert run_sweep()["lost"] == [run.pk]
    assert _orm_task_names() == [f"test-counting-{run.pk}"]
    assert run_sweep()["lost"] == []  # handed over just now
    Run.objects.filter(pk=run.pk).update(enqueued_at=_stale())
    assert run_sweep()["lost"] == []  # still waiting in the broker: not twice


def test_a_task_waiting_on_another_queue_is_not_lost(django_capture_on_commit_callbacks):
    from tests.kissweb.jobs.test_runner import DownloadingRunner

    with django_capture_on_commit_callbacks(execute=True):
        run = DownloadingRunner.request(subject_id=1)
    Run.objects.filter(pk=run.pk).update(enqueued_at=_stale())
    assert broker_task_names() == {f"test-downloading-{run.pk}"}
    assert run_sweep()["lost"] == []


def test_a_run_waiting_for_its_back_off_is_not_lost():
    run = CountingRunner.request(subject_id=1)
    Run.objects.filter(pk=run.pk).update(queued_at=_stale(), enqueued_at=timezone.now() + timedelta(seconds=30))
    assert run_sweep()["lost"] == []


def test_the_schedule_exists_after_migrate_and_replaces_the_old_ones():
    from django_q.models import Schedule

    Schedule.objects.create(name="kissweb-training-sweeper", func="kissweb.training.tasks.training_sweep_task",
                            schedule_type=Schedule.MINUTES, minutes=5)
    sweeper_schedule_ensure()
    schedule = Schedule.objects.get(name=SWEEPER_SCHEDULE_NAME)
    assert schedule.func == SWEEP_TASK and schedule.schedule_type == Schedule.MINUTES
    # On the housekeeping queue, whose worker runs nothing else: a 6-hour analysis cannot hold it up.
    assert schedule.cluster == "kissweb-housekeeping"
    assert list(Schedule.objects.filter(name__startswith="kissweb").values_list("name", flat=True)) == [
        SWEEPER_SCHEDULE_NAME
    ]


# --- Redis (what docker-compose deploys) ----------------------------------------------------------------------


def _pusher_pass(broker) -> list[dict]:
    """What a worker's pusher does with the waiting tasks (django_q.pusher): read each, fail what it cannot read."""
    from django_q.signing import BadSignature, SignedPackage

    read = []
    while task_set := broker.dequeue():
        for ack_id, payload in task_set:
            try:
                read.append(SignedPackage.loads(payload))
            except (TypeError, BadSignature):
                broker.fail(ack_id)
    return read


def test_with_redis_a_task_the_worker_cannot_read_does_not_leave_its_run_queued(redis_broker, monkeypatch, caplog):
    """Fault 1: a task signed with another key is dropped by the worker (BadSignature); the run must not stay
    queued for good (before the job runner, the sweeper re-queued lost tasks only on the ORM broker)."""
    from django_q.brokers import get_broker
    from django_q.tasks import async_task

    run = CountingRunner.request(subject_id=1)
    from django_q.conf import Conf

    with monkeypatch.context() as other_process:  # signed with another key, as `manage.py` did before the fix
        other_process.setattr(Conf, "SECRET_KEY", "another-processes-key")
        async_task("kissweb.jobs.tasks.run_task", run.pk, task_name=f"test-counting-{run.pk}")
    broker = get_broker()
    assert broker.queue_size() == 1 and broker_task_names() == set()  # waiting, but nobody can read it

    with caplog.at_level(logging.ERROR, logger="kissweb.jobs.brokers"):
        assert _pusher_pass(broker) == []
    assert "could not be read" in caplog.text and "DJANGO_SECRET_KEY" in caplog.text
    assert broker.queue_size() == 0 and Run.objects.get(pk=run.pk).status == "queued"

    assert run_sweep()["lost"] == []  # not yet older than the stale limit
    Run.objects.filter(pk=run.pk).update(enqueued_at=_stale())
    assert run_sweep()["lost"] == [run.pk]
    [task] = _pusher_pass(broker)
    assert task["name"] == f"test-counting-{run.pk}" and task["args"] == (run.pk,)


def test_with_redis_a_waiting_task_is_seen_and_not_handed_over_twice(redis_broker):
    from django_q.tasks import async_task

    run = CountingRunner.request(subject_id=1)
    async_task("kissweb.jobs.tasks.run_task", run.pk, task_name=f"test-counting-{run.pk}")
    Run.objects.filter(pk=run.pk).update(enqueued_at=_stale())
    assert broker_task_names() == {f"test-counting-{run.pk}"}
    assert run_sweep()["lost"] == []
    assert redis_broker.connection().llen(redis_broker.list_key) == 1
