"""django-q2 entry points. Thin: each calls a service."""

from __future__ import annotations

from kissweb.analysis import services


def analysis_task(analysis_id: int) -> str:
    return services.analysis_run(analysis_id=analysis_id)


def analysis_sweep_task() -> dict:
    return services.analysis_sweep()
