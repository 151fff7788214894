"""The exports' jobs on the shared job runner (claim, heartbeat, progress with ETA, retry, cancellation, sweeper), both
on the exports queue: an export, and the copy browsers can play of a film they cannot play as stored."""

from __future__ import annotations

from kissweb import errors
from kissweb.exports import render
from kissweb.exports.models import Export
from kissweb.exports.playable import playable_copy_make
from kissweb.exports.services import export_render
from kissweb.exports.sweeper import export_sweep
from kissweb.jobs.queues import EXPORTS
from kissweb.jobs.runner import Failure, Runner
from kissweb.library.models import Movie


class RenderRunner(Runner):
    """What a run that renders with ffmpeg does with its failures: a full disk or an unreadable film is final, a
    render error is tried once more."""

    could_not = ""  # "The export could not be made", ...

    def failure(self, exc: Exception) -> Failure | None:
        if isinstance(exc, render.DiskFull | render.SourceUnreadable):
            return Failure(str(exc), retry=False)
        if isinstance(exc, render.RenderError):
            return Failure(f"{self.could_not}: {exc}", retry=True)
        if isinstance(exc, errors.DomainError):
            return Failure(exc.detail, retry=False)
        return None


class ExportRunner(RenderRunner):
    kind = "export"
    subject_type = "export"
    # Their own queue, served by a worker at a lower CPU priority: a thousand exports never delay an analysis.
    queue = EXPORTS
    title = "The export"
    could_not = "The export could not be made"
    max_attempts = 2
    give_up_hint = "Try the export again; if it keeps failing, the details are in the worker's log."

    def subject_exists(self) -> bool:
        return Export.objects.filter(pk=self.run.subject_id).exists()

    def first_stage(self) -> str:
        return "opening the films"

    @classmethod
    def sweep(cls) -> dict | None:
        done = export_sweep()
        return done if any(done.values()) else None

    def work(self) -> None:
        def done() -> None:
            self.succeed()

        export_render(export_id=self.run.subject_id, report=self.report, on_done=done)


class PlayableCopyRunner(RenderRunner):
    """The copy browsers can play of a film they cannot play as stored (kissweb.exports.playable)."""

    kind = "playable_copy"
    subject_type = "movie"
    title = "The playable copy"
    could_not = "The copy browsers can play could not be made"
    max_attempts = 2
    give_up_hint = "The film itself is kept (and analysed); to watch it here, upload it again as an MP4 with H.264 video."
    queue = EXPORTS

    @classmethod
    def lock_key(cls, subject_id: int) -> str:
        return f"playable:{subject_id}"  # not the movie's key: the film's analysis runs beside it

    def subject_exists(self) -> bool:
        return Movie.objects.filter(pk=self.run.subject_id).exists()

    def first_stage(self) -> str:
        return "making a copy browsers can play"

    def work(self) -> None:
        playable_copy_make(movie_id=self.run.subject_id, report=self.report, on_done=self.succeed)
