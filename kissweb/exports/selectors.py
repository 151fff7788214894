"""Reads of exports: one, the caller's list, and the run that carries each one's progress."""

from __future__ import annotations

from django.db.models import QuerySet

from kissweb import errors
from kissweb.exports.models import Export


def export_get(*, export_id: int) -> Export:
    export = Export.objects.select_related("movie", "scene_type").filter(pk=export_id).first()
    if export is None:
        raise errors.NotFound(f"There is no export {export_id}; it may have expired (exports are kept for a while, "
                              "then removed).")
    return export


def export_list(*, user) -> QuerySet:
    """The person's own exports, newest first."""
    return Export.objects.filter(requested_by=user).select_related("movie", "scene_type").order_by("-created_at", "-id")


def export_runs(*, export_ids: list[int]) -> dict:
    """export id -> its latest run."""
    from kissweb.jobs.models import Run

    runs = {}
    for run in Run.objects.filter(subject_type="export", subject_id__in=export_ids).order_by("queued_at", "id"):
        runs[run.subject_id] = run
    return runs


def export_run(*, export: Export):
    return export_runs(export_ids=[export.pk]).get(export.pk)


def playable_copy_output(*, movie, copy) -> dict:
    """What the player needs to know: whether the film's own file plays in browsers, else how its copy is coming
    along (the latest run of kind playable_copy), and the address that plays whichever it is."""
    from kissweb.exports.playable import PLAYABLE_RUN_KIND
    from kissweb.jobs.models import Run

    run = Run.objects.filter(kind=PLAYABLE_RUN_KIND, subject_id=movie.pk).order_by("-queued_at", "-id").first()
    if copy.source_plays:
        status = "not_needed"
    elif copy.file:
        status = "ready"
    else:
        status = run.status if run is not None else "queued"
    busy = run is not None and status in ("queued", "running")
    return {
        "movie": movie.pk, "source_plays": copy.source_plays, "reason": copy.reason, "status": status,
        "progress": 1.0 if status == "ready" else (run.progress if busy else 0.0),
        "eta_s": run.eta_s if busy else None, "stage": run.stage if busy else "",
        "error": errors.without_paths(run.error, movie_title=movie.title) if run is not None and status != "ready"
        else "",
        "run": run.pk if run is not None else None, "size_bytes": copy.size_bytes,
        "playback_url": f"/api/movies/{movie.pk}/playback/",
    }
