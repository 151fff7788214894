"""Adding a film from a URL as a run of the shared job runner: the movie shows the download's progress
("Downloading 37 %") while it is `downloading`, and the run's error when the download is refused or fails."""

from __future__ import annotations

from django.conf import settings

from kissweb import errors
from kissweb.jobs import conf
from kissweb.jobs.models import RunStatus
from kissweb.jobs.queues import DOWNLOADS
from kissweb.jobs.runner import Failure, Runner, SubjectGone
from kissweb.library.models import Movie, MovieStatus
from kissweb.library.url_import import movie_download


class UrlDownloadRunner(Runner):
    kind = "url_download"
    subject_type = "movie"
    title = "The download"
    max_attempts = 3
    queue = DOWNLOADS  # a download waits on a remote server: it must never hold up an analysis
    give_up_hint = "Check that the address works in a browser, then add it again."

    @classmethod
    def lock_key(cls, subject_id: int) -> str:
        return f"download:{subject_id}"  # not the movie's key: the download queues the movie's analysis itself

    @classmethod
    def mirror(cls, *, run_id: int, subject_id: int, status: str, fields: dict) -> None:  # noqa: ARG003
        movie = Movie.objects.filter(pk=subject_id)
        if status in (RunStatus.QUEUED, RunStatus.RUNNING):
            updates = {k: v for k, v in fields.items() if k in ("progress", "eta_s")}
            if updates:
                movie.filter(status=MovieStatus.DOWNLOADING).update(**updates)
        elif status in (RunStatus.FAILED, RunStatus.CANCELLED):
            reason = fields.get("error") or "The download was cancelled."
            movie.filter(status=MovieStatus.DOWNLOADING).update(status=MovieStatus.FAILED, error=reason, eta_s=None)
        if not movie.exists():
            raise SubjectGone(f"movie {subject_id} was deleted")

    @classmethod
    def timeout_s(cls, *, subject_id: int) -> int:  # noqa: ARG003
        # The download stops itself at its deadline; the rest (probe, poster) takes minutes at most.
        return min(conf.task_timeout_cap_s(), int(settings.KISSWEB_URL_DEADLINE_S) + 15 * 60)

    def subject_exists(self) -> bool:
        return Movie.objects.filter(pk=self.run.subject_id).exists()

    def first_stage(self) -> str:
        return "downloading"

    def work(self) -> None:
        movie_download(movie_id=self.run.subject_id, report=self.report)

    def failure(self, exc: Exception) -> Failure | None:
        if isinstance(exc, errors.DomainError):
            # A server that broke off may answer next time; a refusal (too large, not a video, a private address,
            # a duplicate) will not change.
            return Failure(exc.detail, retry=exc.code == "download_failed")
        return None
