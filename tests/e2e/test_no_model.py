"""A film of a scene type with no model yet (issue 19 item 22): the explanation says that scenes added by hand are
listed below only when some are."""

from __future__ import annotations

import hashlib
import shutil
import uuid
from pathlib import Path

import pytest

from tests.e2e.conftest import kissing_type, screenshot

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_no_model_box_mentions_hand_made_scenes_only_when_there_are_some(page_as, user, clip_60s, settings):
    import detector
    from kissweb.library.models import Movie, Segment

    kissing = kissing_type()
    name = f"movies/{uuid.uuid4().hex}.mp4"
    target = Path(settings.MEDIA_ROOT) / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(clip_60s, target)
    info = detector.probe(target)
    movie = Movie.objects.create(
        title="Brief Encounter", original_filename="clip.mp4", file=name, size_bytes=target.stat().st_size,
        sha256=hashlib.sha256(uuid.uuid4().bytes).hexdigest(), duration_s=info.duration_s, width=info.width,
        height=info.height, fps=info.fps, has_audio=info.has_audio, uploaded_by=user, status="ready", progress=1.0,
    )
    page = page_as(user)
    page.goto(f"/movies/{movie.pk}/")
    box = page.locator("#no-model:not([hidden])")
    box.wait_for()
    assert "No kissing model yet" in box.inner_text()
    assert "listed below" not in box.inner_text()  # there is nothing below

    Segment.objects.create(movie=movie, scene_type=kissing, start_s=5, end_s=12, source="manual", created_by=user)
    page.reload()
    box.wait_for()
    page.wait_for_selector("text=added by a person")
    assert "The 1 scene(s) added by hand are listed below." in box.inner_text()
    screenshot(page, "movie-no-model-hand-made")
