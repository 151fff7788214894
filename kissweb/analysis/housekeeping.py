"""Housekeeping of stored embeddings: remove those that no model can use any more, and say how much space that frees.

Embeddings are kept per (movie, backbone set, digest) so that switching models back decodes nothing. Once no model
version names a set and digest (its models were deleted) and they are not the standard sets' embeddings at their
current weights (what new heads are trained on and new analyses make first), nothing reads them again: a run of
kind `embeddings_cleanup` removes their rows and files. The sweeper queues one on its rounds when there is something
to remove (`EmbeddingsCleanupRunner.sweep`); staff can queue one and see what the last one freed
(GET/POST /api/embeddings/cleanup/).
"""

from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet

from kissweb import permissions
from kissweb.analysis.backbones import STANDARD_SETS, standard_digest
from kissweb.analysis.models import ModelVersion, MovieEmbedding
from kissweb.jobs.models import ACTIVE_RUN_STATUSES, Run
from kissweb.jobs.runner import AlreadyActive, Runner
from kissweb.jobs.selectors import run_latest

log = logging.getLogger(__name__)


def embeddings_unused() -> QuerySet[MovieEmbedding]:
    """Stored embeddings no model version names and that are not the standard sets' at their current weights; those
    of a movie being analysed now are left alone (its run may be about to read or replace them)."""
    kept = Q()
    for backbone_set in STANDARD_SETS:
        kept |= Q(backbone_set=backbone_set, backbone_digest=standard_digest(backbone_set))
    named = ModelVersion.objects.filter(
        backbone_set=OuterRef("backbone_set"), backbone_digest=OuterRef("backbone_digest")
    )
    busy = Run.objects.filter(subject_type="movie", subject_id=OuterRef("movie_id"), status__in=ACTIVE_RUN_STATUSES)
    return MovieEmbedding.objects.exclude(kept).exclude(Exists(named)).exclude(Exists(busy))


def _size(name: str) -> int:
    try:
        return (Path(settings.MEDIA_ROOT) / name).stat().st_size
    except OSError:
        return 0


def embeddings_unused_size() -> dict:
    """{"files": how many unused embeddings are stored, "bytes": the space their files take}."""
    names = list(embeddings_unused().values_list("file", flat=True))
    return {"files": len(names), "bytes": sum(_size(name) for name in names)}


def embeddings_unused_remove() -> dict:
    """Remove the unused embeddings' rows, and their files once that is committed; {"files", "bytes"} freed."""
    with transaction.atomic():
        rows = list(embeddings_unused().select_for_update(skip_locked=True).values_list("pk", "file"))
        freed = sum(_size(name) for _, name in rows)
        MovieEmbedding.objects.filter(pk__in=[pk for pk, _ in rows]).delete()
        paths = [Path(settings.MEDIA_ROOT) / name for _, name in rows if name]
        transaction.on_commit(lambda: [path.unlink(missing_ok=True) for path in paths])
    if rows:
        log.info("housekeeping: removed %d unused embedding file(s), %d bytes", len(rows), freed)
    return {"files": len(rows), "bytes": freed}


def _megabytes(n_bytes: int) -> str:
    return f"{n_bytes / 1e6:.1f} MB"


class EmbeddingsCleanupRunner(Runner):
    """Remove the embeddings no model uses; the finished run's stage says how much space that freed."""

    kind = "embeddings_cleanup"
    subject_type = "library"  # the whole library: subject_id is always 0
    title = "Removing unused embeddings"
    max_attempts = 2
    give_up_hint = "The worker's log has the details; the next sweeper round tries again."

    @classmethod
    def lock_key(cls, subject_id: int) -> str:  # noqa: ARG003
        return cls.kind

    def subject_exists(self) -> bool:
        return True

    def first_stage(self) -> str:
        return "finding embeddings no model uses"

    def work(self) -> None:
        done = embeddings_unused_remove()
        summary = f"removed {done['files']} unused embedding file(s), {_megabytes(done['bytes'])} freed"
        with transaction.atomic():
            self.succeed()
            Run.objects.filter(pk=self.run.pk).update(stage=summary[:120])

    @classmethod
    def sweep(cls) -> dict | None:
        """On the sweeper's rounds: queue a cleanup when there is something to remove (one at a time)."""
        if not embeddings_unused().exists():
            return None
        try:
            return {"queued": [cls.request(subject_id=0).pk]}
        except AlreadyActive:
            return None


def embeddings_cleanup_request(*, user=None) -> Run:
    """Queue a cleanup now (the one already queued or running, if any)."""
    permissions.require_if_person(user=user, action=permissions.DELETE, subject="model")
    try:
        return EmbeddingsCleanupRunner.request(subject_id=0, requested_by=user)
    except AlreadyActive as exc:
        return exc.run or embeddings_cleanup_latest()


def embeddings_cleanup_latest() -> Run | None:
    return run_latest(kind=EmbeddingsCleanupRunner.kind, subject_id=0)
