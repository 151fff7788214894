"""Adding a film from a URL: the request (checked at once, a movie in status `downloading`), and the download the
worker does, after which the movie goes the way of an upload (duplicate check by content hash, probe, poster,
analysis). A refusal leaves no file; the movie shows it as `failed` with the same sentences as an upload."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.db import transaction

from kissweb import errors, permissions
from kissweb.jobs.runner import runner_for
from kissweb.library import url_fetch, url_sites
from kissweb.library.models import Movie, MovieStatus
from kissweb.library.uploads import UploadTooLarge

# report(progress 0..1, stage, eta_s); may raise to stop the download.
Report = Callable[..., None]
URL_DOWNLOAD_RUN_KIND = "url_download"  # kissweb.library.runners.UrlDownloadRunner
DOWNLOAD_SHARE = 0.95  # of the progress bar; probing and the poster take the rest


def allowlist() -> url_fetch.Allowlist:
    return url_fetch.Allowlist.parse(settings.KISSWEB_URL_ALLOWED_HOSTS)


def _title_from_name(name: str) -> str:
    return " ".join(Path(name).stem.replace("_", " ").replace(".", " ").split())[:300]


def _title_from_url(url: str) -> str:
    """A file's name (Brief_Encounter.mp4 -> "Brief Encounter"), else the site's (a page: its title comes later)."""
    parts = urlsplit(url)
    path = unquote(parts.path)
    if Path(path).suffix:
        return _title_from_name(path) or (parts.hostname or "Film from a URL")[:300]
    return (parts.hostname or "Film from a URL")[:300]


def movie_request_from_url(*, url: str, title: str | None = None, user) -> Movie:
    """A movie in status `downloading` whose download is queued. The address is checked now (400 when it may not be
    fetched), and again at every redirect while downloading."""
    permissions.require(user=user, action=permissions.CREATE, subject="movie")
    url = url.strip()
    try:
        url_fetch.check_url(url, allowed=allowlist())
    except (url_fetch.UrlRefused, url_fetch.DownloadFailed) as exc:
        raise errors.Invalid(str(exc), code="url_refused", fields={"url": str(exc)}) from None
    title = (title or "").strip()[:300]
    with transaction.atomic():
        movie = Movie.objects.create(
            title=title or _title_from_url(url), original_filename="", source_url=url, uploaded_by=user,
            status=MovieStatus.DOWNLOADING, error="",
        )
        runner_for(URL_DOWNLOAD_RUN_KIND).request(subject_id=movie.pk, requested_by=user,
                                                  stage="waiting to download")
    return movie


def _refusal(exc: Exception, *, url: str) -> errors.DomainError | None:
    """The sentence an upload would give for the same problem (None: not a refusal). The address appears without
    its query string or user info: everyone who can see the movie reads its error."""
    shown = errors.url_for_people(url)
    if isinstance(exc, url_fetch.DownloadTooLarge):
        return UploadTooLarge(limit_bytes=exc.limit_bytes)
    if isinstance(exc, url_fetch.NotVideoContent):
        from kissweb.library.services import NotAVideo

        return NotAVideo(f"'{shown}' is not a video this server can use: {exc}")
    if isinstance(exc, url_fetch.UrlRefused):
        return errors.Invalid(str(exc), code="url_refused")
    if isinstance(exc, url_fetch.DownloadTooSlow):
        return errors.Unprocessable(f"'{shown}' could not be downloaded: {exc}", code="download_too_slow")
    if isinstance(exc, url_fetch.DownloadFailed):
        return errors.Unprocessable(f"'{shown}' could not be downloaded: {exc}", code="download_failed")
    return None


def movie_download(*, movie_id: int, report: Report) -> Movie:
    """Fetch the movie's URL and store it as an upload would. Raises a DomainError with the upload's sentence when
    the file is refused; nothing fetched is kept then."""
    from kissweb.library.services import movie_store_file

    movie = Movie.objects.get(pk=movie_id)
    url, limit = movie.source_url, int(settings.KISSWEB_MAX_UPLOAD_BYTES)
    incoming = Path(settings.MEDIA_ROOT) / "incoming"
    dest = incoming / f"url-{movie.pk}-{uuid.uuid4().hex[:8]}.part"
    started = time.monotonic()
    user_titled = movie.title != _title_from_url(url)

    def on_bytes(done: int, total: int | None) -> None:
        if total:
            elapsed = time.monotonic() - started
            eta = elapsed / done * (total - done) if done else None
            report(progress=DOWNLOAD_SHARE * done / total, stage=f"downloading {done * 100 // total} %", eta_s=eta)
        else:
            report(progress=0.0, stage=f"downloading ({done // 2**20} MB so far)")

    try:
        page_title, fetch_url, headers = "", url, None
        if url_sites.known_site(url):
            report(progress=0.0, stage="asking the site for the file", force=True)
            media = url_sites.site_media(url, allowed=allowlist(), timeout_s=settings.KISSWEB_URL_TIMEOUT_S)
            page_title, fetch_url, headers = media.title, media.media_url, media.headers
        report(progress=0.0, stage="downloading", force=True)
        fetched = url_fetch.fetch(
            fetch_url, dest=dest, limit_bytes=limit, allowed=allowlist(), progress=on_bytes,
            timeout_s=settings.KISSWEB_URL_TIMEOUT_S, headers=headers,
            deadline_s=max(1.0, settings.KISSWEB_URL_DEADLINE_S - (time.monotonic() - started)),
            min_rate_bps=settings.KISSWEB_URL_MIN_RATE_BPS,
        )
    except Exception as exc:
        dest.unlink(missing_ok=True)
        refusal = _refusal(exc, url=url)
        if refusal is not None:
            raise refusal from exc
        raise
    report(progress=DOWNLOAD_SHARE, stage="checking the file", force=True)
    filename = fetched.filename or Path(unquote(urlsplit(fetch_url).path)).name or "download"
    return movie_store_file(
        source=fetched.path, sha256=fetched.sha256, source_is_ours=True, original_filename=filename[:500],
        title=None if user_titled else (page_title or _title_from_name(filename) or None),
        year=None, user=movie.uploaded_by, into=movie,
    )
