"""The streaming upload handler: hash while receiving, stop past the limit."""

from __future__ import annotations

import hashlib

import pytest

from kissweb.library.uploads import HashingLimitedUploadHandler, UploadTooLarge, format_bytes


def feed(handler, chunks):
    handler.new_file("file", "clip.mp4", "video/mp4", None)
    start = 0
    for chunk in chunks:
        handler.receive_data_chunk(chunk, start)
        start += len(chunk)
    return handler.file_complete(start)


def test_hash_is_computed_as_chunks_arrive(settings, tmp_path):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    settings.KISSWEB_MAX_UPLOAD_BYTES = 10_000
    chunks = [b"a" * 4000, b"b" * 4000, b"c" * 2000]
    uploaded = feed(HashingLimitedUploadHandler(), chunks)
    assert uploaded.sha256 == hashlib.sha256(b"".join(chunks)).hexdigest()
    assert uploaded.size == 10_000
    assert uploaded.read() == b"".join(chunks)


def test_too_many_bytes_stop_the_upload_and_remove_the_partial_file(settings, tmp_path):
    tmp_path = tmp_path / "spool"
    tmp_path.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    settings.KISSWEB_MAX_UPLOAD_BYTES = 10_000
    with pytest.raises(UploadTooLarge) as caught:
        feed(HashingLimitedUploadHandler(), [b"a" * 6000, b"b" * 6000])
    assert caught.value.status_code == 413
    assert list(tmp_path.iterdir()) == []


def test_content_length_refuses_early(settings):
    settings.KISSWEB_MAX_UPLOAD_BYTES = 1000
    handler = HashingLimitedUploadHandler()
    with pytest.raises(UploadTooLarge, match="1000 bytes"):
        handler.handle_raw_input(None, {}, 5 * 1024 * 1024, b"boundary")
    assert handler.handle_raw_input(None, {}, 2000, b"boundary") is None  # multipart overhead is allowed


def test_format_bytes():
    assert format_bytes(20 * 1024**3) == "20 GB"
    assert format_bytes(1536) == "1.5 KB"
    assert format_bytes(12) == "12 bytes"
