"""The claim a worker holds on an analysis: taking it (counting attempts), reporting progress and heartbeat while it
works, and ending it when the run fails (retry or give up).

Progress and heartbeat are written with queryset updates filtered by the claim (analysis id, attempt, running), so a
movie deleted meanwhile, or an attempt taken over by another worker, is noticed at the next report and stops the run.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from django.db import DatabaseError, InterfaceError, OperationalError, close_old_connections, connection, transaction
from django.utils import timezone

from kissweb.analysis import conf, storage
from kissweb.library.models import ACTIVE_ANALYSIS_STATUSES, Analysis, AnalysisStatus, Movie, MovieStatus

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 1.0  # at most one progress write per second; the detector reports at least every ~2 s


class MovieGone(Exception):
    """The movie (and with it this analysis) was deleted while the run was going on."""


class ClaimLost(Exception):
    """Another attempt took this analysis over (this worker was presumed dead); this run must stop."""


@dataclass
class Claim:
    analysis_id: int
    movie_id: int
    attempt: int
    kind: str
    stage: str
    duration_s: float
    video_path: str


@dataclass
class RunState:
    claim: Claim
    timings_s: dict = field(default_factory=dict)
    written_files: list[str] = field(default_factory=list)
    backbone_set: str = ""
    skipped: dict = field(default_factory=dict)  # scene type slug -> why it was not scored
    considered_versions: set = field(default_factory=set)  # ids of the models that were active at the start
    last_write: float = 0.0


# --- claiming ------------------------------------------------------------------------------------------------


def analysis_claim(*, analysis_id: int) -> Claim | None:
    """Take the analysis for this worker, counting the attempt; None when there is nothing (more) to do."""
    now = timezone.now()
    with transaction.atomic():
        analysis = Analysis.objects.select_for_update().filter(pk=analysis_id).first()
        if analysis is None or analysis.status not in ACTIVE_ANALYSIS_STATUSES:
            return None  # deleted, finished, or a duplicate delivery of a finished run
        if analysis.status == AnalysisStatus.RUNNING and analysis.heartbeat_at is not None:
            if (now - analysis.heartbeat_at).total_seconds() < conf.stale_after_s():
                log.info("analysis %s is running with a live heartbeat; duplicate delivery ignored", analysis_id)
                return None
        movie = Movie.objects.filter(pk=analysis.movie_id).values("duration_s", "file").first()
        if movie is None:
            return None
        attempt = analysis.attempts + 1
        if attempt > conf.MAX_ATTEMPTS:
            last = analysis.error or "the worker stopped without a word (killed, out of memory, or the machine restarted)"
            reason = (
                f"Analysis gave up after {conf.MAX_ATTEMPTS} attempts. Last problem: {last} "
                "Check the worker's log, then press Analyse to try again."
            )
            Analysis.objects.filter(pk=analysis_id).update(
                status=AnalysisStatus.FAILED, error=reason, finished_at=now, stage="failed", eta_s=None
            )
            Movie.objects.filter(pk=analysis.movie_id).update(status=MovieStatus.FAILED, error=reason, eta_s=None)
            return None
        Analysis.objects.filter(pk=analysis_id).update(
            status=AnalysisStatus.RUNNING,
            attempts=attempt,
            started_at=analysis.started_at or now,
            heartbeat_at=now,
            progress=0.0,
            eta_s=None,
            stage=analysis.stage if analysis.stage.startswith("re-embedding") else "starting",
        )
        Movie.objects.filter(pk=analysis.movie_id).update(status=MovieStatus.ANALYZING, progress=0.0, eta_s=None)
    return Claim(
        analysis_id=analysis_id,
        movie_id=analysis.movie_id,
        attempt=attempt,
        kind=analysis.kind,
        stage=analysis.stage,
        duration_s=float(movie["duration_s"]),
        video_path=str(storage.media_path(movie["file"])),
    )


def claimed_analysis(claim: Claim):
    return Analysis.objects.filter(pk=claim.analysis_id, attempts=claim.attempt, status=AnalysisStatus.RUNNING)


def stop_reason(claim: Claim) -> Exception:
    if not Movie.objects.filter(pk=claim.movie_id).exists():
        return MovieGone(f"movie {claim.movie_id} was deleted")
    return ClaimLost(f"analysis {claim.analysis_id} attempt {claim.attempt} was taken over")


def progress_report(
    state: RunState, *, progress: float, stage: str | None = None, eta_s: float | None = None, force: bool = False
) -> None:
    """Write progress, ETA and heartbeat (throttled). Raises MovieGone / ClaimLost when the run must stop."""
    now = time.monotonic()
    if not force and now - state.last_write < PROGRESS_EVERY_S:
        return
    state.last_write = now
    progress = min(max(float(progress), 0.0), 1.0)
    eta = None if eta_s is None else max(float(eta_s), 0.0)
    claim = state.claim
    if not Movie.objects.filter(pk=claim.movie_id).update(progress=progress, eta_s=eta):
        raise MovieGone(f"movie {claim.movie_id} was deleted")
    fields = {"progress": progress, "eta_s": eta, "heartbeat_at": timezone.now()}
    if stage is not None:
        fields["stage"] = stage[:120]
    if not claimed_analysis(claim).update(**fields):
        raise stop_reason(claim)


class Heartbeat:
    """Beats the analysis's heartbeat from a thread while this process works on it, even in long silent steps
    (loading models, a slow start of the decoder). So a stale heartbeat means the process is gone, which is
    what the sweeper looks for; a process that hangs is ended by the task's timeout instead."""

    def __init__(self, claim: Claim):
        self.claim = claim
        self.interval_s = max(0.5, min(5.0, conf.stale_after_s() / 3))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{claim.analysis_id}", daemon=True)

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
                    claimed_analysis(self.claim).update(heartbeat_at=timezone.now())
                except DatabaseError as exc:  # the main thread meets the same problem and decides
                    log.warning("heartbeat of analysis %s not written: %s", self.claim.analysis_id, exc)
                    thread_connection.close()  # reconnect on the next beat
        finally:
            thread_connection.close()



# --- ending a run that did not succeed ----------------------------------------------------------------------


def drop_broken_connection() -> None:
    # Outside a transaction (the worker's normal state) a broken connection is closed so the next query reconnects.
    if not connection.in_atomic_block:
        close_old_connections()


def _with_db_retries(func, *, tries: int = 5, delay_s: float = 2.0):
    for attempt in range(tries):
        try:
            return func()
        except (OperationalError, InterfaceError):
            if attempt == tries - 1:
                raise
            drop_broken_connection()
            time.sleep(delay_s)
    return None


def analysis_fail(claim: Claim, *, reason: str) -> None:
    def write():
        now = timezone.now()
        with transaction.atomic():
            if claimed_analysis(claim).update(
                status=AnalysisStatus.FAILED, error=reason, finished_at=now, heartbeat_at=now, stage="failed",
                eta_s=None,
            ):
                Movie.objects.filter(pk=claim.movie_id).update(status=MovieStatus.FAILED, error=reason, eta_s=None)

    _with_db_retries(write)


def analysis_retry_or_fail(claim: Claim, *, reason: str) -> str:
    if claim.attempt >= conf.MAX_ATTEMPTS:
        analysis_fail(
            claim,
            reason=f"Analysis gave up after {conf.MAX_ATTEMPTS} attempts. Last problem: {reason} "
            "Fix that, then press Analyse to try again.",
        )
        return "failed"

    def write():
        from kissweb.analysis.services import analysis_enqueue

        with transaction.atomic():
            if claimed_analysis(claim).update(
                status=AnalysisStatus.QUEUED,
                error=f"Attempt {claim.attempt} of {conf.MAX_ATTEMPTS} failed: {reason} Trying again.",
                stage="waiting to retry",
                heartbeat_at=timezone.now(),
                eta_s=None,
            ):
                Movie.objects.filter(pk=claim.movie_id).update(status=MovieStatus.QUEUED, eta_s=None)
                transaction.on_commit(
                    lambda: analysis_enqueue(analysis_id=claim.analysis_id, duration_s=claim.duration_s)
                )

    _with_db_retries(write)
    return "retrying"

