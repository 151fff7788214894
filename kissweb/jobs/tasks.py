"""django-q2 entry points. Thin: the Runner of the run's kind does the work."""

from __future__ import annotations

from kissweb.jobs.models import Run
from kissweb.jobs.runner import runner_for
from kissweb.jobs.sweeper import run_sweep


def run_task(run_id: int) -> str:
    kind = Run.objects.filter(pk=run_id).values_list("kind", flat=True).first()
    if kind is None:
        return "gone"
    return runner_for(kind).execute(run_id)


def sweep_task() -> dict:
    return run_sweep()
