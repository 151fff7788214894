"""Writes of the analysis pipeline: queueing and re-scoring analyses, registering and activating models, re-deriving
scenes after a settings change. The work itself runs as Runners (pipeline.py, rederive.py) on kissweb.jobs."""

from __future__ import annotations

import logging

from kissweb import errors, permissions

# Model files have their own module (upload, imports, fetch, download, activation); these two are its writes.
from kissweb.analysis.model_files import model_version_activate, model_version_create  # noqa: F401
from kissweb.analysis.models import Analysis, AnalysisKind
from kissweb.analysis.pipeline import AnalysisAlreadyActive, AnalysisRunner
from kissweb.analysis.pipeline import analysis_run as pipeline_analysis_run
from kissweb.analysis.rederive import RederiveRunner, scene_type_rederive
from kissweb.jobs.runner import AlreadyActive
from kissweb.jobs.sweeper import run_sweep
from kissweb.library.models import Movie, SceneType

log = logging.getLogger(__name__)

__all__ = ["AnalysisAlreadyActive", "analysis_request", "analysis_run", "analysis_sweep", "model_version_activate",
           "model_version_create", "scene_type_settings_changed"]


def analysis_request(
    *, movie: Movie, kind: str = AnalysisKind.ANALYZE, stage: str = "", requested_by=None
) -> Analysis:
    """Create a queued Analysis and hand its run to the broker once the surrounding transaction commits.

    A rolled-back transaction queues nothing. The database's one-active-run-per-movie rule makes a second
    concurrent request fail with AnalysisAlreadyActive.
    """
    permissions.require_if_person(user=requested_by, action=permissions.CHANGE, subject=movie)
    if not movie.file:
        state = "its download failed" if movie.status == "failed" else "its download has not finished"
        raise errors.Conflict(f"'{movie.title}' has no video file yet ({state}), so there is nothing to analyse; "
                              "add the film again.", code="no_video_file")
    return AnalysisRunner.analysis_request(movie=movie, kind=kind, stage=stage, requested_by=requested_by)


def analysis_run(*, analysis_id: int) -> str:
    """One attempt of the pipeline on the analysis's movie, in this process (what the worker's task does)."""
    return pipeline_analysis_run(analysis_id=analysis_id)


def analysis_sweep() -> dict:
    """The job runner's sweeper (kissweb.jobs.sweeper.run_sweep), which covers analyses with every other run."""
    return run_sweep()


# --- aggregation settings ---------------------------------------------------------------------------------


def scene_type_settings_changed(*, scene_type: SceneType, requested_by=None, queue: bool = True) -> dict:
    """Re-derive every movie's detected segments of scene_type from its stored scores with the new settings.

    Queued as a run (its progress shows on the scene type page) once the surrounding transaction commits; a run
    already queued or running picks the newest settings up (it checks again before it ends). queue=False re-derives
    in this process and returns the changes per movie id.
    """
    permissions.require_if_person(user=requested_by, action=permissions.CHANGE, subject=scene_type)
    if not queue:
        return scene_type_rederive(scene_type=scene_type)
    try:
        run = RederiveRunner.request(subject_id=scene_type.pk, requested_by=requested_by, stage="waiting for a worker")
    except AlreadyActive as exc:
        run = exc.run
    return {"run": run.pk if run else None}
