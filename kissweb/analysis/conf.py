"""The pipeline's limits, read from settings (which read the environment)."""

from __future__ import annotations

from kissweb.jobs import conf as jobs_conf

# Attempts of one analysis before the movie is marked failed. django-q2's ORM broker redelivers a task whose
# worker died but does not count that, so the Run row counts.
MAX_ATTEMPTS = 3
# Seconds of work allowed per second of movie, plus a fixed allowance for start-up (model loading, probing).
TIMEOUT_PER_MOVIE_SECOND = 2.0
TIMEOUT_BASE_S = 900


def task_timeout_cap_s() -> int:
    return jobs_conf.task_timeout_cap_s()


def stale_after_s() -> int:
    """A running analysis whose heartbeat is older than this is presumed dead (the one job runner's limit)."""
    return jobs_conf.stale_after_s()


def analysis_timeout_s(*, duration_s: float) -> int:
    """The task's time limit for a movie of this length, never above Q_CLUSTER's timeout (retry must exceed it)."""
    derived = TIMEOUT_BASE_S + TIMEOUT_PER_MOVIE_SECOND * max(float(duration_s), 0.0)
    return max(1, min(task_timeout_cap_s(), int(derived)))
