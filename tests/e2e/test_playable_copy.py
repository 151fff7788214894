"""A film browsers cannot play as stored (GIF data in an .mp4) plays in the player through its playable copy: the page
says a copy is being made, loads it when it is ready, and the video plays (its time advances)."""

from __future__ import annotations

import hashlib
import time
import uuid
from pathlib import Path

import pytest

from tests.e2e.conftest import screenshot, wait_until
from tests.kissweb.exports.conftest import run_queued
from tests.mediagen import ffmpeg

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def gif_film(settings, tmp_path, user):
    from kissweb.library.models import Movie

    name = f"movies/{uuid.uuid4().hex}.mp4"
    target = Path(settings.MEDIA_ROOT) / name
    target.parent.mkdir(parents=True, exist_ok=True)
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x180:r=10:d=6", "-f", "gif", str(target))  # GIF data, .mp4 name
    return Movie.objects.create(
        title="Rififi", original_filename="rififi.mp4", file=name, size_bytes=target.stat().st_size,
        sha256=hashlib.sha256(uuid.uuid4().bytes).hexdigest(), duration_s=6.0, width=320, height=180, fps=10.0,
        has_audio=False, uploaded_by=user, status="ready", progress=1.0,
    )


def hold_back_the_player_script(route):
    time.sleep(1.5)  # the video's first request is refused (409) before the script that listens for it runs
    route.continue_()


@pytest.mark.parametrize("script_late", [False, True], ids=["script-first", "video-error-first"])
def test_a_film_browsers_cannot_play_plays_through_its_copy(page_as, console, user, gif_film, script_late):
    console.allow("409")  # the player's first request, while the copy is being made
    page = page_as(user)
    if script_late:
        page.route("**/playback*.js", hold_back_the_player_script)
    page.goto(f"/movies/{gif_film.pk}/")
    note = page.locator("#playback-note")
    note.wait_for()
    assert "Browsers cannot play this film as it is stored (it is a GIF animation" in note.inner_text()
    assert "a copy they can play is" in note.inner_text()
    screenshot(page, "playable-copy-waiting")

    assert run_queued("playable_copy") == ["succeeded"]  # the exports worker's part

    wait_until(page, "document.querySelector('video').readyState >= 2", timeout=20_000)
    assert page.locator("#playback-note").count() == 0
    page.evaluate("document.querySelector('video').muted = true; document.querySelector('video').play()")
    wait_until(page, "document.querySelector('video').currentTime > 1.0", timeout=15_000)
    assert page.evaluate("document.querySelector('video').error") is None
    assert page.evaluate("document.querySelector('video').currentSrc").endswith(f"/api/movies/{gif_film.pk}/playback/")
    screenshot(page, "playable-copy-playing")
