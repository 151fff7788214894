"""The job runner's limits, read from settings (which read the environment)."""

from __future__ import annotations

from django.conf import settings

from kissweb.settings.env import env_int


def stale_after_s() -> int:
    """A running run whose heartbeat is older than this is presumed dead, and a queued run whose task is this old
    and not seen in the broker is presumed lost; the sweeper queues either again."""
    default = env_int("KISSWEB_JOBS_STALE_S", env_int("KISSWEB_ANALYSIS_STALE_S", 300))
    return int(getattr(settings, "KISSWEB_JOBS_STALE_S", default))


def sweep_every_minutes() -> int:
    default = env_int("KISSWEB_JOBS_SWEEP_MINUTES", env_int("KISSWEB_ANALYSIS_SWEEP_MINUTES", 1))
    return int(getattr(settings, "KISSWEB_JOBS_SWEEP_MINUTES", default))


def retry_backoff_s() -> float:
    """Seconds before the first retry; each further retry waits three times longer."""
    return float(getattr(settings, "KISSWEB_JOBS_RETRY_BACKOFF_S", env_int("KISSWEB_JOBS_RETRY_BACKOFF_S", 5)))


def task_timeout_cap_s() -> int:
    return int(settings.Q_CLUSTER["timeout"])


def task_retry_s() -> int:
    return int(settings.Q_CLUSTER["retry"])


def heartbeat_every_s() -> float:
    """How often a working process beats its run's heartbeat."""
    return max(0.5, min(5.0, stale_after_s() / 3))


def silent_after_s() -> float:
    """A run whose heartbeat is older than this shows "waiting for a worker" (long before the sweeper acts)."""
    return min(float(stale_after_s()), max(15.0, 4 * heartbeat_every_s()))
