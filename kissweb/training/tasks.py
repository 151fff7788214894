"""Task-queue entry points (django-q2): thin, they call services."""

from __future__ import annotations

from kissweb.training.services import training_run, training_runs_fail_stale


def training_task(run_id: int) -> str:
    run = training_run(run_id=run_id)
    return run.status


def training_sweep_task() -> int:
    return training_runs_fail_stale()


def quality_task(scene_type_id: int) -> str:
    from kissweb.library.models import SceneType
    from kissweb.training.services import NotEnoughAnnotations, quality_estimate_compute

    scene_type = SceneType.objects.filter(pk=scene_type_id).first()
    if scene_type is None:
        return "gone"
    try:
        quality_estimate_compute(scene_type=scene_type)
    except NotEnoughAnnotations as exc:
        return f"not enough labels: {exc}"
    return "succeeded"

