"""Library API fixtures: a private media folder per test and movies made without the upload path."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pytest

from kissweb.library.models import Movie, SceneType, Segment
from tests.runs import analysis_create


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path) -> Path:
    root = tmp_path / "media"
    (root / "incoming").mkdir(parents=True)
    settings.MEDIA_ROOT = root
    settings.FILE_UPLOAD_TEMP_DIR = str(root / "incoming")
    return root


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.fixture
def kissing(db) -> SceneType:
    return SceneType.objects.get(slug="kissing")


@pytest.fixture
def make_movie(media_root):
    """Movie rows with a real file under MEDIA_ROOT; `source` copies an actual video."""

    def make(user, *, title="Casablanca", duration_s=100.0, content: bytes | None = None, source: Path | None = None,
             ext=".mp4", **fields) -> Movie:
        content = source.read_bytes() if source is not None else (content or uuid.uuid4().bytes * 64)
        name = f"movies/{uuid.uuid4().hex}{ext}"
        (media_root / "movies").mkdir(exist_ok=True)
        (media_root / name).write_bytes(content)
        return Movie.objects.create(
            title=title, original_filename=f"{title}{ext}", file=name, size_bytes=len(content),
            sha256=hashlib.sha256(content + uuid.uuid4().bytes).hexdigest(), duration_s=duration_s, width=320,
            height=240, fps=25, has_audio=True, uploaded_by=user, **{"status": "ready", **fields},
        )

    return make


def manual_segment(movie, scene_type, start_s, end_s, **fields) -> Segment:
    return Segment.objects.create(movie=movie, scene_type=scene_type, start_s=start_s, end_s=end_s, source="manual",
                                  **fields)


def detected_segment(movie, scene_type, start_s, end_s, *, confidence=0.9, analysis=None, **fields) -> Segment:
    analysis = analysis or analysis_create(movie=movie)
    return Segment.objects.create(movie=movie, scene_type=scene_type, start_s=start_s, end_s=end_s,
                                  source="detected", analysis=analysis, confidence=confidence, **fields)
