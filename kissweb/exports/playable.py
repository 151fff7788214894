"""Writes of playable copies: the verdict on a film's file (do browsers play it?), queueing the copy when they do not,
and making it (the worker). The media work itself is in `playability` (ffmpeg)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction

from kissweb import errors
from kissweb.exports import playability
from kissweb.exports.models import PlayableCopy
from kissweb.jobs.runner import runner_for
from kissweb.library.models import Movie

PLAYABLE_DIR = "playable"
PLAYABLE_RUN_KIND = "playable_copy"  # kissweb.exports.runners.PlayableCopyRunner


def playable_copy_ensure(*, movie: Movie, user=None) -> PlayableCopy | None:
    """The film's verdict, made once from its streams; when browsers cannot play its file, the copy's run is queued
    (once the transaction commits). None for a film that has no file yet."""
    if not movie.file:
        return None
    copy = PlayableCopy.objects.filter(movie=movie).first()
    if copy is not None:
        return copy
    reason = playability.why_browsers_cannot_play(Path(settings.MEDIA_ROOT) / movie.file.name)
    try:
        with transaction.atomic():
            copy = PlayableCopy.objects.create(movie=movie, source_plays=not reason, reason=reason[:300])
            if reason:
                runner_for(PLAYABLE_RUN_KIND).request(subject_id=movie.pk, requested_by=user,
                                                      stage="waiting for a worker")
    except IntegrityError:  # two requests for one film at once: the other one made the verdict
        copy = PlayableCopy.objects.get(movie=movie)
    return copy


def playable_copy_make(*, movie_id: int, report: Callable[..., None], on_done: Callable[[], None]) -> PlayableCopy:
    """Make the copy browsers can play (the worker's work) and record it with the run's success; the file is whole
    or absent."""
    movie = Movie.objects.get(pk=movie_id)
    source = Path(settings.MEDIA_ROOT) / movie.file.name
    if not movie.file or not source.is_file():
        raise playability.SourceUnreadable(f"The video file of '{movie.title}' is missing from the server's media "
                                           "folder.")
    name = f"{PLAYABLE_DIR}/{movie.pk}-{uuid.uuid4().hex[:12]}.mp4"
    output = Path(settings.MEDIA_ROOT) / name
    started = time.monotonic()

    def progress(fraction: float) -> None:
        elapsed = time.monotonic() - started
        report(progress=min(fraction, 0.99), stage="making a copy browsers can play",
               eta_s=elapsed / fraction * (1 - fraction) if fraction > 0.02 else None)

    report(progress=0.0, stage="making a copy browsers can play", force=True)
    playability.transcode_for_browsers(
        source=source, output=output, duration_s=movie.duration_s, max_height=int(settings.KISSWEB_EXPORT_MAX_HEIGHT),
        preset=settings.KISSWEB_EXPORT_X264_PRESET, progress=progress,
    )
    try:
        with transaction.atomic():
            if not PlayableCopy.objects.filter(movie_id=movie_id, source_plays=False).update(
                file=name, size_bytes=output.stat().st_size,
            ):
                raise errors.NotFound(f"Movie {movie_id} was deleted while its playable copy was made.")
            on_done()
    except BaseException:
        output.unlink(missing_ok=True)
        raise
    return PlayableCopy.objects.get(movie_id=movie_id)
