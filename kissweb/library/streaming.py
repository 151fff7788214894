"""Serving media files with HTTP Range (RFC 9110 byte ranges), which browsers need to seek in a <video>.

Only single ranges are honoured; a multi-range or malformed header is ignored and the whole file is sent
(which the RFC allows). Responses carry a strong ETag and Last-Modified; a Range with an If-Range that matches
neither is ignored too (the client's copy is stale: it gets the whole file, 200). Behind nginx, the response is
handed off with X-Accel-Redirect instead (nginx does the same).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.utils.http import http_date

CHUNK_BYTES = 256 * 1024
RANGE_RE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)

CONTENT_TYPES = {
    ".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime", ".mkv": "video/x-matroska",
    ".webm": "video/webm", ".avi": "video/x-msvideo", ".ts": "video/mp2t", ".mpg": "video/mpeg",
    ".ogv": "video/ogg", ".flv": "video/x-flv", ".wmv": "video/x-ms-wmv", ".3gp": "video/3gpp",
    ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".vtt": "text/vtt",
}


def content_type_for(path: Path | str) -> str:
    return CONTENT_TYPES.get(Path(path).suffix.lower(), "application/octet-stream")


class Unsatisfiable(Exception):
    pass


def validators(path: Path) -> tuple[str, str]:
    """(strong ETag, Last-Modified) of a stored file. Stored media are written once under a new name and never
    changed in place, so size and modification time identify the bytes."""
    stat = path.stat()
    return f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"', http_date(stat.st_mtime)


def if_range_matches(if_range: str | None, *, etag: str, last_modified: str) -> bool:
    """RFC 9110 13.1.5: an entity-tag compares strongly (a weak one never matches), a date must be exact."""
    if if_range is None:
        return True
    value = if_range.strip()
    if value.startswith(('"', "W/")):
        return value == etag
    return value == last_modified


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) inclusive byte positions for a single-range header; None to send the whole file.

    Raises Unsatisfiable when the range is well-formed but lies outside the file.
    """
    if not header:
        return None
    match = RANGE_RE.match(header)
    if not match:
        return None  # malformed or several ranges: serve everything
    first, last = match.group(1), match.group(2)
    if first == "" and last == "":
        return None
    if first == "":  # suffix: the last N bytes
        length = int(last)
        if length == 0 or size == 0:
            raise Unsatisfiable
        return max(size - length, 0), size - 1
    start = int(first)
    if last and int(last) < start:
        return None  # syntactically invalid: ignore it
    if start >= size:
        raise Unsatisfiable
    end = int(last) if last else size - 1
    return start, min(end, size - 1)


class RangeFileIterator:
    """Yields bytes first..last of a file in chunks; the file is closed when the response is."""

    def __init__(self, path: Path, first: int, last: int, chunk_bytes: int = CHUNK_BYTES):
        self._file = open(path, "rb")  # noqa: SIM115 - closed by close(), which the server calls
        self._file.seek(first)
        self._remaining = last - first + 1
        self._chunk = chunk_bytes

    def __iter__(self):
        return self

    def __next__(self) -> bytes:
        if self._remaining <= 0:
            raise StopIteration
        data = self._file.read(min(self._chunk, self._remaining))
        if not data:
            raise StopIteration
        self._remaining -= len(data)
        return data

    def close(self) -> None:
        self._file.close()


def _common_headers(response: HttpResponse, *, content_type: str) -> HttpResponse:
    response["Accept-Ranges"] = "bytes"
    response["Content-Type"] = content_type
    response["X-Content-Type-Options"] = "nosniff"
    return response


def ranged_file_response(
    *, path: Path, relative_name: str, range_header: str | None, content_type: str | None = None,
    cache_control: str = "private, max-age=3600", if_range: str | None = None,
) -> HttpResponse:
    """The file (or the requested byte range of it) as a streamed response.

    `relative_name` is the path under MEDIA_ROOT, used for X-Accel-Redirect when
    settings.KISSWEB_ACCEL_REDIRECT_PREFIX is set (nginx then serves the bytes and the ranges).
    """
    content_type = content_type or content_type_for(path)
    prefix = getattr(settings, "KISSWEB_ACCEL_REDIRECT_PREFIX", None)
    if prefix:
        response = HttpResponse()
        response["X-Accel-Redirect"] = f"{prefix.rstrip('/')}/{quote(relative_name.lstrip('/'))}"
        response["Cache-Control"] = cache_control
        return _common_headers(response, content_type=content_type)

    size = path.stat().st_size
    etag, last_modified = validators(path)
    if not if_range_matches(if_range, etag=etag, last_modified=last_modified):
        range_header = None
    try:
        byte_range = parse_range(range_header, size)
    except Unsatisfiable:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return _common_headers(response, content_type=content_type)

    if byte_range is None:
        response = FileResponse(open(path, "rb"), content_type=content_type)  # noqa: SIM115
        response["Content-Length"] = str(size)
    else:
        first, last = byte_range
        response = StreamingHttpResponse(RangeFileIterator(path, first, last), status=206)
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
        response["Content-Length"] = str(last - first + 1)
    response["Cache-Control"] = cache_control
    response["ETag"] = etag
    response["Last-Modified"] = last_modified
    return _common_headers(response, content_type=content_type)
