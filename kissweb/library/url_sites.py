"""Pages of a few named sites (YouTube, Vimeo, ...) through yt-dlp: the file's address and the page's title. The file
itself is then fetched by kissweb.library.url_fetch, every hop checked.

yt-dlp reads pages of the sites in SITES only, each on its own public hosts, with that site's extractor alone. yt-dlp
fetches pages with its own HTTP client, which follows redirects without url_fetch's checks, and many of its
extractors accept any host (Mediasite, Kaltura, the generic one, ...): given a page on an allowed or public server,
one of them followed that page's redirect to an address inside the network. Any other address is a plain download.

No Django here.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from kissweb.library.url_fetch import Allowlist, DownloadFailed, NotVideoContent, UrlRefused, check_url

# yt-dlp: one file with picture and sound, fetched over plain HTTP(S) (not HLS/DASH pieces), at most 1080p.
YTDLP_FORMAT = (
    "best[height<=1080][vcodec!=none][acodec!=none][protocol^=http]"
    "/best[vcodec!=none][acodec!=none][protocol^=http]"
)

# yt-dlp's extractors that may read a page, and the hosts (with their subdomains) each may be asked about.
SITES: dict[str, tuple[str, ...]] = {
    "Youtube": ("youtube.com", "youtu.be", "youtube-nocookie.com"),
    "Vimeo": ("vimeo.com",),
    "Dailymotion": ("dailymotion.com", "dai.ly"),
    "ArchiveOrg": ("archive.org",),
}

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SiteMedia:
    """What yt-dlp found on a page of a site it knows."""

    media_url: str
    headers: dict[str, str]
    title: str
    extractor: str


def _site_host(host: str, domains: tuple[str, ...]) -> bool:
    return any(host == domain or host.endswith(f".{domain}") for domain in domains)


def known_site(url: str) -> str | None:
    """The yt-dlp extractor (a key of SITES) for this page, or None when only a plain download applies: the host must
    be one of that site's own and the extractor must take the URL."""
    from yt_dlp.extractor import get_info_extractor

    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().rstrip(".")
    if parts.scheme not in ("http", "https") or not host:
        return None
    for key, domains in SITES.items():
        if _site_host(host, domains) and get_info_extractor(key).suitable(url):
            return key
    return None


def _site_error_message(exc: Exception) -> str:
    """What yt-dlp said, when the site said it (a removed or private video); nothing about the network."""
    from yt_dlp.utils import ExtractorError

    cause = (getattr(exc, "exc_info", None) or (None, None))[1]
    if isinstance(cause, ExtractorError) and cause.expected and cause.cause is None:
        return f": {cause.orig_msg}"[:300]
    return ""


def site_media(url: str, *, allowed: Allowlist, timeout_s: float = 30.0) -> SiteMedia:
    """Ask yt-dlp for the file behind a page of a site in SITES (one file with picture and sound).

    Untested against the real sites here: the development machines cannot reach YouTube or any other site.
    """
    import yt_dlp

    key = known_site(url)
    if key is None:
        raise UrlRefused("Kissweb reads pages of only a few named sites; this address is not one of them.")
    check_url(url, allowed=allowed)
    options = {
        "quiet": True, "no_warnings": True, "skip_download": True, "noplaylist": True,
        # This site's extractor alone: a page that points at another extractor's URL ends here, unread.
        "allowed_extractors": [re.escape(yt_dlp.extractor.get_info_extractor(key).IE_NAME.lower())],
        "format": YTDLP_FORMAT, "socket_timeout": timeout_s,
    }
    try:
        with yt_dlp.YoutubeDL(options) as ydl:
            info = ydl.extract_info(url, download=False)
    except yt_dlp.utils.DownloadError as exc:
        message = re.sub(r"^ERROR:\s*", "", str(exc)).strip()
        if "Requested format is not available" in message:
            raise NotVideoContent(
                "This site offers the video only in pieces (HLS/DASH streams) or without sound, which Kissweb does "
                "not download; download it yourself and upload the file."
            ) from None
        log.info("add from URL: yt-dlp could not read %s: %s", url, message)
        raise DownloadFailed(f"The site's page could not be read{_site_error_message(exc)}.") from None
    if info.get("_type") == "playlist" or not info.get("url"):
        raise NotVideoContent("This address is a list of videos, not one video; add them one at a time.")
    return SiteMedia(
        media_url=info["url"], headers={k: str(v) for k, v in (info.get("http_headers") or {}).items()},
        title=str(info.get("title") or "").strip()[:300], extractor=str(info.get("extractor_key") or ""),
    )
