"""Reads. Views and pages get their data here."""

from __future__ import annotations

from django.db import connection
from django.utils import timezone


def health_read() -> dict:
    """Database reachability and the age of the newest task-worker heartbeat."""
    from django_q.status import Stat

    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
    except Exception:  # noqa: BLE001 - any failure means the database is not usable
        return {"status": "error", "database": "unreachable", "worker_heartbeat_age_s": None}
    stats = Stat.get_all()
    ages = [(timezone.now() - s.timestamp).total_seconds() for s in stats if getattr(s, "timestamp", None)]
    return {
        "status": "ok",
        "database": "ok",
        "workers": len(stats),
        "worker_heartbeat_age_s": round(min(ages), 1) if ages else None,
    }
