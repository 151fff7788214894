"""Which pages go through yt-dlp: the named sites on their own hosts only (issue 19, item 1: yt-dlp's Mediasite extractor
took any host and followed a page's redirect inside the network)."""

from __future__ import annotations

import pytest

from kissweb.library import url_sites
from kissweb.library.url_fetch import Allowlist, UrlRefused

LOCAL = Allowlist.parse(["127.0.0.1"])


def test_known_sites_go_to_yt_dlp_and_plain_links_do_not():
    assert url_sites.known_site("https://www.youtube.com/watch?v=dQw4w9WgXcQ") == "Youtube"
    assert url_sites.known_site("https://youtu.be/dQw4w9WgXcQ") == "Youtube"
    assert url_sites.known_site("https://media.example/film.mp4") is None


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8000/Mediasite/Play/0123456789abcdef0123456789abcdef",  # yt-dlp's Mediasite takes any host
    "https://media.example/Mediasite/Play/0123456789abcdef0123456789abcdef1d",
    "https://invidious.example/watch?v=dQw4w9WgXcQ",  # Youtube's extractor takes mirrors' hosts too
    "https://youtube.com.evil.example/watch?v=dQw4w9WgXcQ",
])
def test_yt_dlp_reads_pages_of_the_named_sites_on_their_own_hosts_only(url):
    assert url_sites.known_site(url) is None
    with pytest.raises(UrlRefused, match="only a few named sites"):
        url_sites.site_media(url, allowed=LOCAL)


class _FakeYoutubeDL:
    """Stands in for yt_dlp.YoutubeDL (no site is reachable from here): records its options, raises `error`."""

    seen: list = []
    error: Exception | None = None

    def __init__(self, options):
        self.seen.append(options)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def extract_info(self, url, download):
        raise self.error


@pytest.fixture
def fake_ytdlp(monkeypatch):
    import yt_dlp

    _FakeYoutubeDL.seen = []
    monkeypatch.setattr(yt_dlp, "YoutubeDL", _FakeYoutubeDL)
    monkeypatch.setattr(url_sites, "check_url", lambda url, allowed: None)  # no DNS here
    return _FakeYoutubeDL


def _download_error(cause: Exception):
    from yt_dlp.utils import DownloadError

    return DownloadError(f"ERROR: {cause}", exc_info=(type(cause), cause, None))


def test_yt_dlp_runs_with_the_one_extractor_of_the_site(fake_ytdlp):
    from yt_dlp.utils import ExtractorError

    fake_ytdlp.error = _download_error(ExtractorError("Video unavailable. This video is private", expected=True))
    with pytest.raises(url_sites.DownloadFailed) as failed:
        url_sites.site_media("https://www.youtube.com/watch?v=dQw4w9WgXcQ", allowed=Allowlist())
    assert fake_ytdlp.seen[0]["allowed_extractors"] == ["youtube"]
    assert str(failed.value) == "The site's page could not be read: Video unavailable. This video is private."


def test_what_the_network_said_to_yt_dlp_is_not_shown(fake_ytdlp):
    from yt_dlp.utils import ExtractorError

    network = ConnectionRefusedError(111, "Connection refused")
    fake_ytdlp.error = _download_error(ExtractorError("Unable to download webpage: [Errno 111] Connection refused",
                                                      cause=network))
    with pytest.raises(url_sites.DownloadFailed) as failed:
        url_sites.site_media("https://vimeo.com/123456", allowed=Allowlist())
    assert str(failed.value) == "The site's page could not be read."
