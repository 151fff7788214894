"""A full disk during an upload: 507 with a sentence to act on, and nothing kept on disk or in the database."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
from django.core.files.uploadhandler import TemporaryFileUploadHandler

from kissweb.analysis.models import Analysis
from kissweb.library.models import Movie
from tests.kissweb.library.conftest import files_under

pytestmark = pytest.mark.django_db


def _upload(client, path: Path):
    with path.open("rb") as f:
        return client.post("/api/movies/", {"file": f}, format="multipart")


def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def _assert_refused_and_nothing_kept(response, media_root):
    assert response.status_code == 507, response.content
    assert response.json()["detail"].startswith("The server's disk is full, so the upload was not stored")
    assert not Movie.objects.exists() and not Analysis.objects.exists()
    assert files_under(media_root) == []


def test_disk_full_while_the_upload_streams_in(api_client, small_video, media_root, monkeypatch):
    monkeypatch.setattr(TemporaryFileUploadHandler, "receive_data_chunk", _disk_full)
    _assert_refused_and_nothing_kept(_upload(api_client, small_video), media_root)


def test_disk_full_while_the_poster_is_written(api_client, small_video, media_root, monkeypatch):
    real_write_bytes = Path.write_bytes

    def write_bytes(self, data):
        if self.parent.name == "posters":
            _disk_full()
        return real_write_bytes(self, data)

    monkeypatch.setattr(Path, "write_bytes", write_bytes)
    _assert_refused_and_nothing_kept(_upload(api_client, small_video), media_root)
