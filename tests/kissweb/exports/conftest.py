"""Export test fixtures: a private media folder per test, a ready film made of known colours, its scenes, and a way
to run the queued runs of one kind here, as the worker would."""

from __future__ import annotations

import hashlib
import shutil
import uuid
from pathlib import Path

import pytest

from kissweb.library.models import Movie, SceneType, Segment
from tests.kissweb.exports.media import colour_film
from tests.runs import analysis_create

# red 0-4 s, green 4-8 s, blue 8-12 s: each scene below is one colour.
PARTS = [("red", 4.0), ("green", 4.0), ("blue", 4.0)]


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path) -> Path:
    root = tmp_path / "media"
    (root / "incoming").mkdir(parents=True)
    settings.MEDIA_ROOT = root
    settings.FILE_UPLOAD_TEMP_DIR = str(root / "incoming")
    return root


@pytest.fixture(scope="session")
def colour_source(tmp_path_factory) -> Path:
    return colour_film(tmp_path_factory.mktemp("exports") / "rgb.mp4", PARTS)


@pytest.fixture
def kissing(db) -> SceneType:
    # The seeded row is gone after a transactional test elsewhere flushed the database.
    return SceneType.objects.get_or_create(slug="kissing", defaults={"name": "Kissing"})[0]


@pytest.fixture
def film(media_root, colour_source, user) -> Movie:
    """A ready 12 s film (320x240, 25 fps, AAC) uploaded by `user`."""
    name = f"movies/{uuid.uuid4().hex}.mp4"
    (media_root / "movies").mkdir(exist_ok=True)
    shutil.copyfile(colour_source, media_root / name)
    content = colour_source.read_bytes()
    return Movie.objects.create(
        title="Casablanca", original_filename="rgb.mp4", file=name, size_bytes=len(content),
        sha256=hashlib.sha256(content + uuid.uuid4().bytes).hexdigest(), duration_s=12.0, width=320, height=240,
        fps=25.0, has_audio=True, uploaded_by=user, status="ready",
    )


@pytest.fixture
def scenes(film, kissing) -> list[Segment]:
    """A detected scene in the green part and a manual one in the blue part."""
    analysis = analysis_create(movie=film)
    return [
        Segment.objects.create(movie=film, scene_type=kissing, start_s=4.5, end_s=7.5, confidence=0.87,
                               source="detected", analysis=analysis),
        Segment.objects.create(movie=film, scene_type=kissing, start_s=9.0, end_s=11.0, source="manual"),
    ]


def run_queued(kind: str) -> list[str]:
    """Run every queued run of `kind` once, in this process, as the worker's task would."""
    from kissweb.jobs.models import Run
    from kissweb.jobs.tasks import run_task

    return [run_task(pk) for pk in Run.objects.filter(kind=kind, status="queued").order_by("pk").values_list(
        "pk", flat=True)]
