"""Task names of the analysis pipeline from before the job runner, kept so that tasks still waiting in a broker when
the app is upgraded run: each hands over to kissweb.jobs.tasks."""

from __future__ import annotations

from kissweb.jobs.tasks import run_task, sweep_task
from kissweb.analysis.models import Analysis


def analysis_task(analysis_id: int) -> str:
    run_id = Analysis.objects.filter(pk=analysis_id).values_list("run_id", flat=True).first()
    return "gone" if run_id is None else run_task(run_id)


def analysis_sweep_task() -> dict:
    return sweep_task()
