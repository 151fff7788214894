"""Getting the published model: download model.pkl from the link in the published project's README, import it.

The file (about 330 MB) is on Google Drive. For a file that large Drive first answers with a web page ("can't scan
this file for viruses") holding a form or link that confirms the download; `download_file` follows it (at most a few
hops), resumes a cut connection or an earlier partial download with an HTTP Range request, checks the result's
size and SHA-256, and only then moves it into place. `fetch_published_model` then converts it with the restricted
unpickler (detector.reference) into one self-contained `.safetensors` whose card records the download (URL, size,
SHA-256, time). Standard library only.

The published project pins no checksum, so none is pinned here: pass expected_sha256 (CLI --sha256) to insist on one;
the digest found is always recorded in the card.
"""

from __future__ import annotations

import hashlib
import html.parser
import http.client
import http.cookiejar
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from detector.errors import DownloadError

PUBLISHED_MODEL_ID = "1RlvvdInTXtJikGv_ZbHcKoblCypN1Z0A"
PUBLISHED_MODEL_PAGE = f"https://drive.google.com/file/d/{PUBLISHED_MODEL_ID}/view?usp=sharing"
PUBLISHED_MODEL_URL = f"https://drive.google.com/uc?export=download&id={PUBLISHED_MODEL_ID}"
PUBLISHED_MODEL_FILE = "model.pkl"
PUBLISHED_MODEL_OUTPUT = "published.safetensors"
MAX_CONFIRMATIONS = 3
CHUNK_BYTES = 1 << 20
HTML_PEEK_BYTES = 2 << 20  # a confirmation page is a few kilobytes

Progress = Callable[[str, int, int], None]  # (stage, done, total): stages "download", "checksum", "import"


@dataclass(frozen=True)
class Download:
    """A finished download: where it is, where it came from, its size and SHA-256, and how many times it resumed."""

    path: Path
    url: str
    size: int
    sha256: str
    resumed: int

    def as_card(self) -> dict:
        return {
            "url": self.url, "bytes": self.size, "sha256": self.sha256,
            "downloaded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }


def by_hand(reason: str) -> str:
    """What to do when this machine cannot download the model itself."""
    return (
        f"{reason} This machine may have no internet access. Download model.pkl by hand on a machine that has "
        f"(open {PUBLISHED_MODEL_PAGE} and press Download, then 'Download anyway'), copy it here and either upload it "
        "on the Kissweb scene type page (Scene types > Kissing > Upload a model file) or run "
        "`./kiss manage activate_model model.pkl --scene-type kissing` (or convert it yourself with "
        "`python -m detector import-reference-model model.pkl -o published.safetensors`)."
    )


def network_reason(exc: BaseException) -> str:
    """Why a connection failed, in words (not "[Errno -2] Name or service not known")."""
    import socket

    reason = getattr(exc, "reason", None) or exc
    if isinstance(reason, socket.gaierror):
        return "its name could not be looked up (no DNS answer: is this machine offline?)"
    if isinstance(reason, ConnectionRefusedError):
        return "the connection was refused (nothing answers there)"
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return "it did not answer in time"
    if isinstance(reason, ConnectionResetError):
        return "the connection was cut"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror[:1].lower() + reason.strerror[1:]
    return str(reason) or type(reason).__name__


class _ConfirmationPage(html.parser.HTMLParser):
    """The links and GET forms of a host's 'download anyway' page."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []
        self.links: list[str] = []
        self.title = ""
        self._in_form = False
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("method", "get").lower() == "get":
            self.forms.append((a.get("action", ""), {}))
            self._in_form = True
        elif tag == "input" and self._in_form and a.get("name") and a.get("type", "text").lower() == "hidden":
            self.forms[-1][1][a["name"]] = a.get("value", "")
        elif tag == "a" and "confirm=" in a.get("href", ""):
            self.links.append(a["href"])
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False
        elif tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def confirmation_url(page: str, base_url: str) -> str | None:
    """The URL a 'download anyway' page points to: a GET form with a `confirm` field, or a link with confirm=."""
    parser = _ConfirmationPage()
    parser.feed(page)
    for action, fields in parser.forms:
        if "confirm" in fields or "id" in fields:
            target = urllib.parse.urljoin(base_url, action or base_url)
            return f"{target}{'&' if '?' in target else '?'}{urllib.parse.urlencode(fields)}"
    for href in parser.links:
        return urllib.parse.urljoin(base_url, href)
    return None


def _page_title(page: str) -> str:
    parser = _ConfirmationPage()
    parser.feed(page)
    return " ".join(parser.title.split())[:120] or "no title"


def _total_size(response, offset: int) -> int | None:
    content_range = response.headers.get("Content-Range") or ""
    match = re.match(r"bytes \d+-\d+/(\d+)", content_range)
    if match:
        return int(match.group(1))
    length = response.headers.get("Content-Length")
    return offset + int(length) if length and length.isdigit() else None


def _is_html(response) -> bool:
    return (response.headers.get("Content-Type") or "").split(";")[0].strip().lower() in ("text/html", "application/xhtml+xml")


def download_file(
    url: str,
    destination: str | os.PathLike,
    *,
    expected_sha256: str | None = None,
    timeout_s: float = 60,
    retries: int = 5,
    progress: Progress | None = None,
) -> Download:
    """Download url to destination through a host's large-file confirmation page, resuming cut connections.

    A partial download is kept as DESTINATION.part and resumed (HTTP Range) by the next call; a server that ignores
    Range starts it again. The finished file must have the size the server announced and, when expected_sha256 is
    given, that SHA-256; otherwise nothing is kept. Raises DownloadError saying what to do.
    progress(stage, done, total) gets "download" with bytes, then "checksum"; an exception it raises stops the
    download (the partial file stays for the next call).
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".part")
    report = progress or (lambda stage, done, total: None)
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    current, total, resumed, failures, confirmations = url, None, 0, 0, 0
    while True:
        offset = partial.stat().st_size if partial.exists() else 0
        if total is not None and offset >= total:
            break
        headers = {"User-Agent": "kissweb-detector"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        try:
            response = opener.open(urllib.request.Request(current, headers=headers), timeout=timeout_s)
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and offset:  # the partial file is not a prefix of this file: start again
                partial.unlink()
                failures += 1
                if failures > retries:
                    raise DownloadError(by_hand(f"{_host(url)} refused every resumed request (HTTP 416).")) from None
                continue
            raise DownloadError(by_hand(f"{_host(current)} answered HTTP {exc.code} ({exc.reason}).")) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            failures += 1
            if failures > retries or offset == 0 and total is None:
                raise DownloadError(by_hand(f"Could not reach {_host(current)}: {network_reason(exc)}.")) from None
            time.sleep(min(2.0 ** failures, 30.0) / 10)
            continue
        with response:
            if _is_html(response):
                page = response.read(HTML_PEEK_BYTES).decode("utf-8", "replace")
                following = confirmation_url(page, response.geturl())
                confirmations += 1
                if following is None or confirmations > MAX_CONFIRMATIONS:
                    raise DownloadError(by_hand(
                        f"{_host(current)} answered with a web page ('{_page_title(page)}') instead of the file, "
                        "and it holds no download confirmation (the host may be refusing downloads for now)."
                    ))
                current = following
                continue
            if offset and response.status != 206:
                offset = 0  # the server ignored Range: this response is the whole file
            total = _total_size(response, offset)
            if offset:
                resumed += 1
            try:
                with open(partial, "ab" if offset else "wb") as out:
                    done = offset
                    report("download", done, total or 0)
                    for block in iter(lambda: response.read(CHUNK_BYTES), b""):
                        out.write(block)
                        done += len(block)
                        report("download", done, total or 0)
            except (OSError, http.client.HTTPException) as exc:  # a cut connection: resume from what arrived
                if isinstance(exc, OSError) and exc.errno is not None and not _is_network_errno(exc.errno):
                    raise DownloadError(f"Cannot write {partial} ({exc.strerror}).") from None
                failures += 1
                if failures > retries:
                    raise DownloadError(by_hand(
                        f"The download from {_host(current)} broke off {failures} times ({exc}); "
                        f"{partial.stat().st_size} bytes are kept in {partial} and the next try resumes there."
                    )) from None
                continue
            if total is None:
                total = partial.stat().st_size
    size = partial.stat().st_size
    if size != total:
        partial.unlink()
        raise DownloadError(by_hand(f"The download has {size} bytes, not the {total} announced; nothing was kept."))
    report("checksum", 0, size)
    digest = _sha256(partial)
    report("checksum", size, size)
    if expected_sha256 is not None and digest != expected_sha256.lower():
        partial.unlink()
        raise DownloadError(by_hand(
            f"The downloaded file has SHA-256 {digest}, not {expected_sha256}; nothing was kept."
        ))
    partial.replace(destination)
    return Download(path=destination, url=url, size=size, sha256=digest, resumed=resumed)


def _is_network_errno(errno_value: int) -> bool:
    import errno

    return errno_value in (errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE, errno.ETIMEDOUT, errno.ENETDOWN,
                           errno.ENETUNREACH, errno.EHOSTUNREACH)


def _host(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc or url


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK_BYTES), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_published_model(
    directory: str | os.PathLike,
    *,
    url: str = PUBLISHED_MODEL_URL,
    expected_sha256: str | None = None,
    scene_type: str = "kissing",
    keep_pickle: bool = False,
    timeout_s: float = 60,
    retries: int = 5,
    progress: Progress | None = None,
) -> Path:
    """Download the published model.pkl into `directory` and import it as DIRECTORY/published.safetensors (+ its
    .card.json); returns the model file's path. The card's training.download records URL, size, SHA-256 and time.

    model.pkl is deleted after a successful import unless keep_pickle (the model file holds all of it); an
    interrupted download stays as model.pkl.part and the next call resumes it. progress(stage, done, total):
    "download" (bytes), "checksum", "import" (0/1, then 1/1). Raises DownloadError (no internet: says how to get the
    file by hand) or ModelFileError (the file is not the published model).
    """
    from detector.reference import import_reference_file

    directory = Path(directory)
    report = progress or (lambda stage, done, total: None)
    pickle_path = directory / PUBLISHED_MODEL_FILE
    download = download_file(
        url, pickle_path, expected_sha256=expected_sha256, timeout_s=timeout_s, retries=retries, progress=progress
    )
    report("import", 0, 1)
    try:
        written = import_reference_file(
            pickle_path, directory / PUBLISHED_MODEL_OUTPUT, scene_type=scene_type, download=download.as_card()
        )
    finally:
        if not keep_pickle:
            pickle_path.unlink(missing_ok=True)
    report("import", 1, 1)
    return written
