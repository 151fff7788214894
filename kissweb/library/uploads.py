"""Upload handling: the file streams to a temporary file on disk, hashed and size-checked chunk by chunk."""

from __future__ import annotations

import errno
import hashlib
import re

from django.conf import settings
from django.core.files.uploadhandler import TemporaryFileUploadHandler

from kissweb import errors

# Room for the multipart boundaries and the small text fields next to the file.
MULTIPART_OVERHEAD_BYTES = 1024 * 1024


def format_bytes(n: int) -> str:
    for unit, size in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if n >= size:
            return f"{n / size:.1f} {unit}".replace(".0 ", " ")
    return f"{n} bytes"


class UploadTooLarge(errors.TooLarge):
    default_code = "upload_too_large"

    def __init__(self, *, limit_bytes: int):
        super().__init__(
            f"The file is larger than this server accepts ({format_bytes(limit_bytes)}); "
            "cut or re-encode it to a smaller size, or ask the administrator to raise KISSWEB_MAX_UPLOAD_BYTES."
        )


def disk_full_message(*, lost: str, then: str) -> str:
    """The one sentence for a full disk, wherever it is met (an upload, an analysis)."""
    return (
        f"The server's disk is full, so {lost} (nothing was kept). Free space in the media folder (KISSWEB_DATA_DIR) "
        f"or ask the administrator to, then {then}."
    )


class StorageFull(errors.StorageFull):
    def __init__(self) -> None:
        super().__init__(disk_full_message(lost="the upload was not stored", then="upload again"))


# NumPy's ndarray.tofile (what np.save uses on a real file) reports a short write as "N requested and M written",
# an OSError without errno: on a regular file that only happens when the disk (or quota) is full.
_SHORT_WRITE = re.compile(r"^\d+ requested and \d+ written$")


def is_disk_full(exc: BaseException) -> bool:
    if not isinstance(exc, OSError):
        return False
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return exc.errno is None and bool(_SHORT_WRITE.match(str(exc).strip()))


class HashingLimitedUploadHandler(TemporaryFileUploadHandler):
    """Writes each uploaded file to a temporary file, computing its SHA-256 as the chunks arrive.

    The request is refused early when Content-Length already says it is too big, and stopped as soon as
    the bytes received pass settings.KISSWEB_MAX_UPLOAD_BYTES (a client may lie about the length).
    The finished file carries `.sha256` (hex).
    """

    def __init__(self, request=None):
        super().__init__(request)
        self.limit_bytes = int(settings.KISSWEB_MAX_UPLOAD_BYTES)
        self._hash = hashlib.sha256()
        self._received = 0
        self._fields_seen: set[str] = set()

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length and content_length > self.limit_bytes + MULTIPART_OVERHEAD_BYTES:
            raise UploadTooLarge(limit_bytes=self.limit_bytes)
        return None

    def new_file(self, field_name, *args, **kwargs):
        # Refuse a second file of one field before its bytes go to disk (kissweb.parsers refuses it for any upload).
        if field_name in self._fields_seen:
            from kissweb.parsers import second_file

            raise second_file(field_name)
        self._fields_seen.add(field_name)
        super().new_file(field_name, *args, **kwargs)
        self._hash = hashlib.sha256()
        self._received = 0

    def receive_data_chunk(self, raw_data, start):
        self._received += len(raw_data)
        if self._received > self.limit_bytes:
            self.upload_interrupted()  # removes the partial temporary file now
            raise UploadTooLarge(limit_bytes=self.limit_bytes)
        self._hash.update(raw_data)
        try:
            return super().receive_data_chunk(raw_data, start)
        except OSError as exc:
            if is_disk_full(exc):
                self.upload_interrupted()
                raise StorageFull() from exc
            raise

    def file_complete(self, file_size):
        uploaded = super().file_complete(file_size)
        uploaded.sha256 = self._hash.hexdigest()
        return uploaded
