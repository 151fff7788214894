"""Task names of training from before the job runner, kept so that tasks still waiting in a broker when the app is
upgraded run: each hands over to kissweb.jobs.tasks."""

from __future__ import annotations

from kissweb.jobs.tasks import run_task, sweep_task
from kissweb.training.models import TrainingRun


def training_task(run_id: int) -> str:
    job_id = TrainingRun.objects.filter(pk=run_id).values_list("run_id", flat=True).first()
    return "gone" if job_id is None else run_task(job_id)


def training_sweep_task() -> dict:
    return sweep_task()


def quality_task(scene_type_id: int) -> str:  # queued before the quality estimate was a Run
    from kissweb.library.models import SceneType
    from kissweb.training.services import quality_estimate_request

    scene_type = SceneType.objects.filter(pk=scene_type_id).first()
    return "gone" if scene_type is None else f"queued as run {quality_estimate_request(scene_type=scene_type).pk}"
