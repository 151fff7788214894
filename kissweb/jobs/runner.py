"""The one job runner: every kind of background work is a subclass of `Runner`, and its lifecycle lives in a `Run` row.

What the base class does, so that no kind of work writes it again:
- `request()` creates the queued Run (the database allows one queued-or-running run per `lock_key`, so a second
  request raises `AlreadyActive`) and hands it to the task queue once the surrounding transaction commits;
- the task (`kissweb.jobs.tasks.run_task`) claims the run, counting the attempt; every later write of that attempt
  is filtered by (run, attempt, running), so an attempt that was taken over, cancelled, or whose subject was
  deleted notices it at its next report and stops;
- a heartbeat thread keeps `heartbeat_at` fresh while the work runs, even through long silent steps;
- `report()` writes progress, stage and ETA (at most once a second);
- a failure is classified: retried after a back-off (5 s, 15 s, 45 s, ... by default) up to `max_attempts`, or
  failed at once with a sentence for people;
- `run_cancel()` cancels a queued run at once and asks a running one to stop at its next report;
- one sweeper (`kissweb.jobs.sweeper`) queues again running runs whose heartbeat went stale and queued runs whose
  task was lost, on every broker.

Writing a new kind of background work:

    from kissweb.jobs.runner import Failure, Runner

    class ExportRunner(Runner):
        kind = "export"                  # unique; stored in Run.kind, names the tasks "export-<run id>"
        subject_type = "movie"           # what subject_id refers to; lock_key() is "<subject_type>:<subject_id>"
        title = "The export"             # starts the sentences in errors ("The export gave up after 3 attempts")
        max_attempts = 3
        queue = "exports"                # optional: a queue of settings.KISSWEB_QUEUES (default "work")

        def subject_exists(self) -> bool:          # False: the run ends quietly (its subject was deleted)
            return Movie.objects.filter(pk=self.run.subject_id).exists()

        def work(self) -> None:                    # the work itself; a return means success
            for i, part in enumerate(parts):
                ...
                self.report(progress=(i + 1) / len(parts), stage="cutting", eta_s=...)

        def failure(self, exc: Exception) -> Failure | None:
            if isinstance(exc, detector.DecodeError):
                return Failure(f"The video cannot be decoded: {exc}", retry=False)
            return None                            # anything else: logged and retried up to the cap

    # in a service: ExportRunner.request(subject_id=movie.pk, requested_by=user) -> Run (AlreadyActive: 409)

Import the module that defines the subclass from its app's `AppConfig.ready()`, so the worker knows the kind.
Optional hooks: `mirror()` keeps a denormalised copy of the state in step (Movie.status for analyses), written in
the same transaction as each lifecycle change; `cleanup()` removes what an attempt that did not succeed wrote;
`timeout_s()` sizes the task's time limit; `first_stage()` names the stage shown when an attempt starts. A kind
whose success must be written together with its results calls `self.succeed()` inside its own transaction.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import ClassVar

from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, close_old_connections, connection
from django.db import transaction
from django.utils import timezone

from kissweb import errors
from kissweb.jobs import conf
from kissweb.jobs.models import ACTIVE_RUN_STATUSES, Run, RunStatus
from kissweb.jobs.queues import WORK, cluster_of
from kissweb.jobs.selectors import run_progress

log = logging.getLogger(__name__)

RUN_TASK = "kissweb.jobs.tasks.run_task"
PROGRESS_EVERY_S = 1.0  # at most one progress write per second per run

_RUNNERS: dict[str, type[Runner]] = {}


class RunStopped(Exception):
    """The attempt must stop without writing more (base of the reasons below)."""


class ClaimLost(RunStopped):
    """Another attempt took this run over (this worker was presumed dead)."""


class SubjectGone(RunStopped):
    """What the run works on (or the run itself) was deleted meanwhile."""


class RunCancelled(RunStopped):
    """Someone cancelled the run."""


class AlreadyActive(errors.Conflict):
    """A queued or running run holds the same lock key (the API answers 409, with the run's progress)."""

    def __init__(self, message: str, *, run: Run | None = None):
        super().__init__(message, code="run_active", extra={"run": run_progress(run) if run else None})
        self.run = run


@dataclass
class Failure:
    """How a run's failure is told to people, and whether another attempt may help."""

    reason: str
    retry: bool = False


def runners() -> dict[str, type[Runner]]:
    """Every kind of run this process knows."""
    return dict(_RUNNERS)


def runner_for(kind: str) -> type[Runner]:
    try:
        return _RUNNERS[kind]
    except KeyError:
        raise LookupError(
            f"No Runner of kind '{kind}' is loaded in this process (known: {', '.join(sorted(_RUNNERS))})."
        ) from None


def task_name(*, kind: str, run_id: int) -> str:
    return f"{kind}-{run_id}"


def backoff_s(attempt: int) -> float:
    """Seconds to wait before the attempt after `attempt` (1-based): base, 3x base, 9x base, ..."""
    return conf.retry_backoff_s() * 3 ** max(attempt - 1, 0)


def run_enqueue(*, run_id: int, delay_s: float = 0.0) -> str:
    """Give the run's task to the broker now (or, with delay_s >= 1, through a one-off schedule then)."""
    from django_q.tasks import async_task, schedule

    row = Run.objects.filter(pk=run_id).values("kind", "subject_id", "attempts").first()
    if row is None:
        return ""
    runner = runner_for(row["kind"])
    name = task_name(kind=row["kind"], run_id=run_id)
    timeout = runner.timeout_s(subject_id=row["subject_id"])
    cluster = cluster_of(runner.queue)
    if delay_s >= 1:
        try:
            # The schedule names the queue's cluster: that queue's worker hands it over when it is due.
            schedule(
                RUN_TASK, run_id, name=f"{name} attempt {row['attempts'] + 1}", schedule_type="O", cluster=cluster,
                next_run=timezone.now() + timedelta(seconds=delay_s), q_options={"task_name": name, "timeout": timeout},
            )
        except IntegrityError:  # that attempt is scheduled already (django-q2 refuses a second schedule of one name)
            pass
        return ""
    task_id = async_task(RUN_TASK, run_id, task_name=name, timeout=timeout, cluster=cluster)
    Run.objects.filter(pk=run_id).update(task_id=task_id or "")
    return task_id


def drop_broken_connection() -> None:
    # Outside a transaction (the worker's normal state) a broken connection is closed so the next query reconnects.
    if not connection.in_atomic_block:
        close_old_connections()


def with_db_retries(func, *, tries: int = 5, delay_s: float = 2.0):
    """Call func, retrying when the database is briefly unreachable (a restart, a cut connection)."""
    for attempt in range(tries):
        try:
            return func()
        except (OperationalError, InterfaceError):
            if attempt == tries - 1:
                raise
            drop_broken_connection()
            time.sleep(delay_s)
    return None


class Runner:
    """Base class of every kind of background work; see the module docstring for how to write one."""

    kind: ClassVar[str] = ""
    subject_type: ClassVar[str] = ""
    title: ClassVar[str] = "The run"
    max_attempts: ClassVar[int] = 3
    queue: ClassVar[str] = WORK  # the queue (kissweb.jobs.queues) whose workers run this kind
    give_up_hint: ClassVar[str] = "Check the worker's log, then try again."

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.kind:
            _RUNNERS[cls.kind] = cls

    def __init__(self, run: Run):
        self.run = run
        self.attempt = run.attempts
        self.options: dict = {}
        self._last_write = 0.0
        self._succeeded = False

    # --- hooks a subclass overrides -------------------------------------------------------------------------

    @classmethod
    def lock_key(cls, subject_id: int) -> str:
        return f"{cls.subject_type}:{subject_id}"

    @classmethod
    def already_active_message(cls, subject_id: int) -> str:
        return f"{cls.title} of {cls.subject_type} {subject_id} is already queued or running; wait for it to finish."

    @classmethod
    def timeout_s(cls, *, subject_id: int) -> int:  # noqa: ARG003
        return conf.task_timeout_cap_s()

    @classmethod
    def mirror(cls, *, run_id: int, subject_id: int, status: str, fields: dict) -> None:
        """Copy the state to a denormalised row (inside the lifecycle write's transaction). Raise SubjectGone when
        that row is gone."""

    def subject_exists(self) -> bool:
        return True

    def first_stage(self) -> str:
        return "starting"

    def work(self) -> None:
        raise NotImplementedError

    def failure(self, exc: Exception) -> Failure | None:  # noqa: ARG002
        """A sentence for this exception (and whether to retry); None: logged and retried as unexpected."""
        return None

    def cleanup(self) -> None:
        """Remove what this attempt wrote that nothing refers to (it did not succeed)."""

    @classmethod
    def sweep(cls) -> dict | None:
        """Housekeeping of this kind that the one sweeper does on each of its rounds (e.g. removing expired
        results); what it did, for the sweeper's report."""
        return None

    def timeout_reason(self) -> str:
        return (
            f"{self.title} took longer than its limit of {self.timeout_s(subject_id=self.run.subject_id)} s and was "
            "stopped. Raise KISSWEB_TASK_TIMEOUT_S (and KISSWEB_TASK_RETRY_S above it) or give the worker a faster "
            "machine."
        )

    # --- queueing -------------------------------------------------------------------------------------------

    @classmethod
    def request(
        cls, *, subject_id: int, requested_by=None, stage: str = "", max_attempts: int | None = None,
        enqueue: bool = True,
    ) -> Run:
        """A queued Run, handed to the broker once the surrounding transaction commits (a rollback queues nothing;
        enqueue=False: the caller runs it with `execute`)."""
        now = timezone.now()
        try:
            with transaction.atomic():
                run = Run.objects.create(
                    kind=cls.kind, subject_type=cls.subject_type, subject_id=subject_id,
                    lock_key=cls.lock_key(subject_id), stage=stage[:120], max_attempts=max_attempts or cls.max_attempts,
                    requested_by=requested_by if getattr(requested_by, "is_authenticated", False) else None,
                    enqueued_at=now,
                )
        except IntegrityError as exc:
            if "one_active_run_per_lock" not in str(exc):
                raise
            active = Run.objects.filter(lock_key=cls.lock_key(subject_id), status__in=ACTIVE_RUN_STATUSES).first()
            raise AlreadyActive(cls.already_active_message(subject_id), run=active) from exc
        cls.mirror(run_id=run.pk, subject_id=subject_id, status=RunStatus.QUEUED, fields={"progress": 0.0, "eta_s": None, "error": ""})
        if enqueue:
            transaction.on_commit(lambda: run_enqueue(run_id=run.pk))
        return run

    # --- the task -------------------------------------------------------------------------------------------

    @classmethod
    def claim(cls, run_id: int) -> Runner | None:
        """Take the run for this worker, counting the attempt; None when there is nothing (more) to do."""
        now = timezone.now()
        with transaction.atomic():
            run = Run.objects.select_for_update().filter(pk=run_id).first()
            if run is None or run.status not in ACTIVE_RUN_STATUSES:
                return None  # deleted, finished, or a duplicate delivery of a finished run
            if run.status == RunStatus.RUNNING and run.heartbeat_at is not None:
                if (now - run.heartbeat_at).total_seconds() < conf.stale_after_s():
                    log.info("%s is running with a live heartbeat; duplicate delivery ignored", run)
                    return None
            runner = cls(run)
            if run.cancel_requested:
                runner._finish(RunStatus.CANCELLED, guarded=False)
                return None
            if not runner.subject_exists():
                runner._finish(RunStatus.CANCELLED, error=f"The {cls.subject_type} was deleted.", guarded=False)
                return None
            attempt = run.attempts + 1
            if attempt > run.max_attempts:
                last = run.error or "the worker stopped without a word (killed, out of memory, or the machine restarted)"
                runner._finish(
                    RunStatus.FAILED,
                    error=f"{cls.title} gave up after {run.max_attempts} attempts. Last problem: {last} "
                    f"{cls.give_up_hint}",
                    guarded=False,
                )
                return None
            stage = runner.first_stage()
            Run.objects.filter(pk=run_id).update(
                status=RunStatus.RUNNING, attempts=attempt, started_at=run.started_at or now, heartbeat_at=now,
                progress=0.0, eta_s=None, stage=stage[:120],
            )
            cls.mirror(run_id=run.pk, subject_id=run.subject_id, status=RunStatus.RUNNING, fields={"progress": 0.0, "eta_s": None})
            run.status, run.attempts, run.stage = RunStatus.RUNNING, attempt, stage
            run.started_at, run.heartbeat_at = run.started_at or now, now
        runner.attempt = attempt
        return runner

    @classmethod
    def execute(cls, run_id: int, **options) -> str:
        """One attempt: claim, work with a heartbeat, end as succeeded, retrying, failed, cancelled or gone.
        `options` reach the work as self.options (e.g. a training's epochs)."""
        from django_q.exceptions import TimeoutException

        runner = cls.claim(run_id)
        if runner is None:
            return "skipped"
        runner.options = options
        try:
            with Heartbeat(runner):
                runner.report(progress=0.0, stage=runner.run.stage, force=True)
                runner.work()
                if not runner._succeeded:
                    with transaction.atomic():
                        runner.succeed()
            return "succeeded"
        except SubjectGone:
            log.info("%s: its %s was deleted; stopped", runner.run, cls.subject_type)
            runner.cleanup()
            with_db_retries(lambda: runner._finish(RunStatus.CANCELLED, error=f"The {cls.subject_type} was deleted."))
            return "gone"
        except ClaimLost:
            log.info("%s attempt %s was taken over by another attempt; stopped", runner.run, runner.attempt)
            runner.cleanup()
            return "skipped"
        except RunCancelled:
            runner.cleanup()
            with_db_retries(lambda: runner._finish(RunStatus.CANCELLED))
            return "cancelled"
        except TimeoutException:
            runner.cleanup()
            runner.fail(reason=runner.timeout_reason())
            raise
        except (OperationalError, InterfaceError) as exc:
            drop_broken_connection()
            runner.cleanup()
            return runner.retry_or_fail(reason=f"The database was unreachable ({str(exc).strip()}).")
        except Exception as exc:
            known = runner.failure(exc)
            if known is None:
                log.exception("%s attempt %s failed", runner.run, runner.attempt)
                known = Failure(f"Unexpected error {type(exc).__name__}: {exc}.", retry=True)
            runner.cleanup()
            if known.retry:
                return runner.retry_or_fail(reason=known.reason)
            runner.fail(reason=known.reason)
            return "failed"

    # --- writes of a claimed attempt ------------------------------------------------------------------------

    def claimed(self):
        """The run, as long as this attempt still holds it (the guard of every write)."""
        return Run.objects.filter(pk=self.run.pk, attempts=self.attempt, status=RunStatus.RUNNING)

    def stop_reason(self) -> RunStopped:
        row = Run.objects.filter(pk=self.run.pk).values("cancel_requested").first()
        if row is None or not self.subject_exists():
            return SubjectGone(f"{self.run.subject_type} {self.run.subject_id} was deleted")
        if row["cancel_requested"]:
            return RunCancelled(f"run {self.run.pk} was cancelled")
        return ClaimLost(f"run {self.run.pk} attempt {self.attempt} was taken over")

    def report(self, *, progress: float, stage: str | None = None, eta_s: float | None = None,
               force: bool = False) -> None:
        """Write progress, ETA, stage and heartbeat (throttled). Raises RunStopped when the attempt must stop."""
        now = time.monotonic()
        if not force and now - self._last_write < PROGRESS_EVERY_S:
            return
        self._last_write = now
        progress = min(max(float(progress), 0.0), 1.0)
        eta = None if eta_s is None else max(float(eta_s), 0.0)
        fields = {"progress": progress, "eta_s": eta, "heartbeat_at": timezone.now()}
        if stage is not None:
            fields["stage"] = stage[:120]
        if not self.claimed().filter(cancel_requested=False).update(**fields):
            raise self.stop_reason()
        self.mirror(run_id=self.run.pk, subject_id=self.run.subject_id, status=RunStatus.RUNNING, fields={"progress": progress, "eta_s": eta})

    def succeed(self) -> None:
        """Mark the attempt succeeded. Call it inside the transaction that writes the results; raises RunStopped when
        the attempt no longer holds the run (nothing of the transaction is kept then)."""
        now = timezone.now()
        if not self.claimed().update(
            status=RunStatus.SUCCEEDED, progress=1.0, eta_s=0.0, stage="done", heartbeat_at=now, finished_at=now,
            error="",
        ):
            raise self.stop_reason()
        self.mirror(run_id=self.run.pk, subject_id=self.run.subject_id, status=RunStatus.SUCCEEDED,
                    fields={"progress": 1.0, "eta_s": 0.0, "error": ""})
        self._succeeded = True

    def _finish(self, status: str, *, error: str = "", guarded: bool = True) -> bool:
        now = timezone.now()
        with transaction.atomic():
            runs = self.claimed() if guarded else Run.objects.filter(pk=self.run.pk)
            fields = {"status": status, "finished_at": now, "stage": str(status), "eta_s": None}
            if error or status == RunStatus.FAILED:
                fields["error"] = error or "failed without a reason"
            if guarded:
                fields["heartbeat_at"] = now
            if not runs.update(**fields):
                return False
            try:
                self.mirror(run_id=self.run.pk, subject_id=self.run.subject_id, status=status, fields={"eta_s": None, "error": error})
            except SubjectGone:
                pass
        return True

    def fail(self, *, reason: str) -> None:
        with_db_retries(lambda: self._finish(RunStatus.FAILED, error=reason))

    def retry_or_fail(self, *, reason: str) -> str:
        if self.attempt >= self.run.max_attempts:
            self.fail(
                reason=f"{self.title} gave up after {self.run.max_attempts} attempts. Last problem: {reason} "
                f"{self.give_up_hint}"
            )
            return "failed"
        delay = backoff_s(self.attempt)

        def write():
            now = timezone.now()
            with transaction.atomic():
                if self.claimed().update(
                    status=RunStatus.QUEUED,
                    error=f"Attempt {self.attempt} of {self.run.max_attempts} failed: {reason} "
                    f"Trying again{f' in {delay:.0f} s' if delay >= 1 else ''}.",
                    stage="waiting to retry", heartbeat_at=now, eta_s=None,
                    enqueued_at=now + timedelta(seconds=delay),
                ):
                    try:
                        self.mirror(run_id=self.run.pk, subject_id=self.run.subject_id, status=RunStatus.QUEUED, fields={"eta_s": None})
                    except SubjectGone:
                        return
                    transaction.on_commit(lambda: run_enqueue(run_id=self.run.pk, delay_s=delay))

        with_db_retries(write)
        return "retrying"


class Heartbeat:
    """Beats the run's heartbeat from a thread while this process works on it, even in long silent steps (loading
    models, a slow decoder start). So a stale heartbeat means the process is gone, which is what the sweeper looks
    for; a process that hangs is ended by the task's timeout instead."""

    def __init__(self, runner: Runner):
        self.runner = runner
        self.interval_s = conf.heartbeat_every_s()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{runner.run.pk}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        from django.db import connection as thread_connection

        try:
            while not self._stop.wait(self.interval_s):
                try:
                    self.runner.claimed().update(heartbeat_at=timezone.now())
                except DatabaseError as exc:  # the main thread meets the same problem and decides
                    log.warning("heartbeat of run %s not written: %s", self.runner.run.pk, exc)
                    thread_connection.close()  # reconnect on the next beat
        finally:
            thread_connection.close()


@transaction.atomic
def run_cancel(*, run: Run) -> Run:
    """Cancel a queued run now; ask a running one to stop at its next report. A finished run stays as it is."""
    locked = Run.objects.select_for_update().get(pk=run.pk)
    if locked.status == RunStatus.QUEUED:
        runner_for(locked.kind)(locked)._finish(RunStatus.CANCELLED, guarded=False)
    elif locked.status == RunStatus.RUNNING:
        Run.objects.filter(pk=run.pk).update(cancel_requested=True, stage="cancelling")
    return Run.objects.get(pk=run.pk)
