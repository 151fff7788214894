"""The export job on the shared job runner: claim, heartbeat, progress with ETA, retry, cancellation, sweeper."""

from __future__ import annotations

from kissweb import errors
from kissweb.exports import render
from kissweb.exports.models import Export
from kissweb.exports.services import export_render
from kissweb.exports.sweeper import export_sweep
from kissweb.jobs.queues import EXPORTS
from kissweb.jobs.runner import Failure, Runner


class ExportRunner(Runner):
    kind = "export"
    subject_type = "export"
    # Their own queue, served by a worker at a lower CPU priority: a thousand exports never delay an analysis.
    queue = EXPORTS
    title = "The export"
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

    def failure(self, exc: Exception) -> Failure | None:
        if isinstance(exc, render.DiskFull | render.SourceUnreadable):
            return Failure(str(exc), retry=False)
        if isinstance(exc, render.RenderError):
            return Failure(f"The export could not be made: {exc}", retry=True)
        if isinstance(exc, errors.DomainError):
            return Failure(exc.detail, retry=False)
        return None
