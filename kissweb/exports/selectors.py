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
