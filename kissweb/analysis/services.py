"""Writes of the analysis pipeline: queueing, running and re-scoring analyses."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from kissweb.library.models import Analysis, AnalysisKind, Movie, MovieStatus

ANALYZE_TASK = "kissweb.analysis.tasks.analysis_task"


class AnalysisAlreadyActive(Exception):
    """A queued or running analysis exists for this movie (the API answers 409)."""


def analysis_request(*, movie: Movie, kind: str = AnalysisKind.ANALYZE) -> Analysis:
    """Create a queued Analysis and enqueue it once the surrounding transaction commits.

    A rolled-back transaction queues nothing. The database's one-active-analysis rule makes a second
    concurrent request fail with AnalysisAlreadyActive.
    """
    from django_q.tasks import async_task

    try:
        with transaction.atomic():
            analysis = Analysis.objects.create(movie=movie, kind=kind)
    except IntegrityError as exc:
        raise AnalysisAlreadyActive(
            f"'{movie.title}' is already being analysed; wait for that run to finish before starting another."
        ) from exc
    Movie.objects.filter(pk=movie.pk).update(status=MovieStatus.QUEUED, progress=0.0, eta_s=None, error="")
    transaction.on_commit(lambda: async_task(ANALYZE_TASK, analysis.pk, task_name=f"analysis-{analysis.pk}"))
    return analysis
