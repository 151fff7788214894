"""django-q2 entry point of the export sweeper. Thin: it calls the service."""

from __future__ import annotations

from kissweb.exports.sweeper import export_sweep


def export_sweep_task() -> dict:
    return export_sweep()
