"""The Runner base class with a small Runner of its own: queueing, claiming, retries, cancelling, database rules."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from kissweb.jobs import conf, runner
from kissweb.jobs.models import Run, RunStatus
from kissweb.jobs.runner import AlreadyActive, Failure, Runner, run_cancel

pytestmark = pytest.mark.django_db


class Flaky(Exception):
    pass


class Hopeless(Exception):
    pass


class CountingRunner(Runner):
    """Reports `steps` times; `script` says what each attempt does: "ok", "flaky", "hopeless", or a callable."""

    kind = "test-counting"
    subject_type = "thing"
    title = "Counting"
    script: list = []
    seen: list = []

    def work(self) -> None:
        what = self.script[self.attempt - 1] if self.attempt <= len(self.script) else "ok"
        for step in range(3):
            self.report(progress=(step + 1) / 3, stage=f"step {step + 1}", force=True)
            if callable(what):
                what(self, step)
        self.seen.append(self.attempt)
        if what == "flaky":
            raise Flaky("the network hiccuped")
        if what == "hopeless":
            raise Hopeless("the input is wrong")

    def failure(self, exc: Exception) -> Failure | None:
        if isinstance(exc, Hopeless):
            return Failure(f"It cannot work: {exc}.")
        if isinstance(exc, Flaky):
            return Failure(f"It stumbled: {exc}.", retry=True)
        return None


@pytest.fixture(autouse=True)
def script():
    CountingRunner.script = []
    CountingRunner.seen = []
    return CountingRunner


def _request(subject_id: int = 1, **kwargs) -> Run:
    return CountingRunner.request(subject_id=subject_id, **kwargs)


def _reload(run: Run) -> Run:
    return Run.objects.get(pk=run.pk)


def test_a_request_is_handed_to_the_broker_only_when_the_transaction_commits(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        run = _request()
        from django_q.models import OrmQ

        assert not OrmQ.objects.exists()
    assert len(callbacks) == 1
    [task] = [t.task for t in OrmQ.objects.all()]
    assert task["name"] == f"test-counting-{run.pk}" and task["args"] == (run.pk,)
    assert _reload(run).task_id == task["id"]


class DownloadingRunner(CountingRunner):
    kind = "test-downloading"
    subject_type = "download"
    queue = "downloads"


def test_each_kind_goes_to_its_own_queue_so_one_kind_never_waits_behind_another(django_capture_on_commit_callbacks):
    from django_q.models import OrmQ

    with django_capture_on_commit_callbacks(execute=True):
        work, download = _request(), DownloadingRunner.request(subject_id=1)
    assert {task.key: task.task["name"] for task in OrmQ.objects.all()} == {
        "kissweb": f"test-counting-{work.pk}", "kissweb-downloads": f"test-downloading-{download.pk}",
    }


def test_a_retry_waits_on_its_own_queue(script, monkeypatch, django_capture_on_commit_callbacks):
    scheduled = []
    monkeypatch.setattr("django_q.tasks.schedule", lambda *args, **kwargs: scheduled.append(kwargs))
    script.script = ["flaky"]
    run = DownloadingRunner.request(subject_id=1)
    with django_capture_on_commit_callbacks(execute=True):
        assert DownloadingRunner.execute(run.pk) == "retrying"
    assert [k["cluster"] for k in scheduled] == ["kissweb-downloads"]


def test_a_runner_of_an_unknown_queue_is_refused_when_it_is_queued(django_capture_on_commit_callbacks):
    class Lost(CountingRunner):
        kind = "test-lost-queue"
        queue = "nowhere"

    with pytest.raises(LookupError, match="No queue 'nowhere'"), django_capture_on_commit_callbacks(execute=True):
        Lost.request(subject_id=1)


def test_one_active_run_per_lock_key_and_the_refusal_carries_the_run():
    first = _request(subject_id=7)
    with pytest.raises(AlreadyActive) as refused:
        _request(subject_id=7)
    assert refused.value.run == first and refused.value.status_code == 409
    assert refused.value.extra["run"]["id"] == first.pk
    _request(subject_id=8)
    assert Run.objects.count() == 2


def test_a_run_succeeds_with_progress_stage_and_times():
    run = _request()
    assert CountingRunner.execute(run.pk) == "succeeded"
    run = _reload(run)
    assert (run.status, run.attempts, run.progress, run.stage, run.error) == ("succeeded", 1, 1.0, "done", "")
    assert run.started_at <= run.finished_at and run.heartbeat_at is not None


def test_a_retryable_failure_waits_longer_each_time_then_gives_up(script, monkeypatch, settings,
                                                                  django_capture_on_commit_callbacks):
    settings.KISSWEB_JOBS_RETRY_BACKOFF_S = 10
    scheduled = []
    monkeypatch.setattr("django_q.tasks.schedule", lambda *args, **kwargs: scheduled.append(kwargs))
    script.script = ["flaky", "flaky", "flaky"]
    run = _request()
    outcomes = []
    for _ in range(3):
        started = timezone.now()
        with django_capture_on_commit_callbacks(execute=True):  # the retry is handed over on commit
            outcomes.append(CountingRunner.execute(run.pk))
        if outcomes[-1] == "retrying":
            row = _reload(run)
            assert row.status == "queued" and "Trying again in" in row.error and "stumbled" in row.error
            assert row.enqueued_at >= started + timedelta(seconds=conf.retry_backoff_s() * 3 ** (len(outcomes) - 1))
    assert outcomes == ["retrying", "retrying", "failed"]
    delays = [(k["next_run"] - timezone.now()).total_seconds() for k in scheduled]
    assert len(scheduled) == 2 and 0 < delays[0] < delays[1] <= 30
    row = _reload(run)
    assert row.status == "failed" and row.attempts == 3 and "gave up after 3 attempts" in row.error


def test_a_failure_another_attempt_cannot_fix_fails_at_once(script):
    script.script = ["hopeless"]
    run = _request()
    assert CountingRunner.execute(run.pk) == "failed"
    row = _reload(run)
    assert row.attempts == 1 and row.error == "It cannot work: the input is wrong."


def test_an_unexpected_error_is_retried_with_its_name(script):
    script.script = [lambda runner, step: 1 / 0]
    run = _request()
    assert CountingRunner.execute(run.pk) == "retrying"
    assert "ZeroDivisionError" in _reload(run).error


def test_a_duplicate_delivery_while_the_run_lives_is_ignored_and_a_finished_one_does_nothing():
    run = _request()
    Run.objects.filter(pk=run.pk).update(status="running", attempts=1, heartbeat_at=timezone.now(),
                                         started_at=timezone.now())
    assert CountingRunner.execute(run.pk) == "skipped" and CountingRunner.seen == []
    stale = timezone.now() - timedelta(seconds=conf.stale_after_s() + 5)
    Run.objects.filter(pk=run.pk).update(heartbeat_at=stale)
    assert CountingRunner.execute(run.pk) == "succeeded" and _reload(run).attempts == 2
    assert CountingRunner.execute(run.pk) == "skipped" and CountingRunner.seen == [2]


def test_an_attempt_taken_over_stops_at_its_next_report_without_succeeding(script):
    def taken_over(runner, step):
        if step == 0:
            Run.objects.filter(pk=runner.run.pk).update(attempts=2)

    script.script = [taken_over]
    run = _request()
    assert CountingRunner.execute(run.pk) == "skipped"
    row = _reload(run)
    assert row.status == "running" and row.attempts == 2 and CountingRunner.seen == []


def test_cancelling_a_queued_run_ends_it_at_once():
    run = run_cancel(run=_request())
    assert run.status == "cancelled" and run.finished_at is not None
    assert CountingRunner.execute(run.pk) == "skipped" and CountingRunner.seen == []
    _request()  # the lock is free again


def test_cancelling_a_running_run_stops_it_at_its_next_report(script):
    def cancel_midway(runner, step):
        if step == 0:
            run_cancel(run=runner.run)

    script.script = [cancel_midway]
    run = _request()
    assert CountingRunner.execute(run.pk) == "cancelled"
    row = _reload(run)
    assert row.status == "cancelled" and row.cancel_requested and CountingRunner.seen == []


def test_a_run_of_an_unknown_kind_is_not_guessed():
    with pytest.raises(LookupError, match="No Runner of kind 'nope'"):
        runner.runner_for("nope")


def _row(**fields) -> Run:
    base = {"kind": "test-counting", "subject_type": "thing", "subject_id": 1, "lock_key": "thing:1"}
    return Run.objects.create(**{**base, **fields})


@pytest.mark.parametrize(
    ("fields", "rule"),
    [
        ({"attempts": 4, "max_attempts": 3}, "run_attempts_within_cap"),
        ({"status": "succeeded"}, "run_final_has_finished_at"),
        ({"finished_at": timezone.now()}, "run_active_not_finished"),
        ({"status": "running", "attempts": 1}, "run_running_has_heartbeat"),
        ({"status": "failed", "finished_at": timezone.now()}, "run_failed_has_reason"),
        ({"progress": 1.5}, "run_progress_0_1"),
        ({"status": "waiting"}, "run_status_valid"),
        ({"max_attempts": 0}, "run_max_attempts_positive"),
    ],
)
def test_database_rules_on_runs(fields, rule):
    with pytest.raises(IntegrityError, match=rule), transaction.atomic():
        _row(**fields)


def test_the_database_allows_one_active_run_per_lock_key():
    _row()
    with pytest.raises(IntegrityError, match="one_active_run_per_lock"), transaction.atomic():
        _row(status="running", attempts=1, heartbeat_at=timezone.now())
    _row(status="failed", error="x", finished_at=timezone.now())
