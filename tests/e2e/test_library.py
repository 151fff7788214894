"""Sign in, upload with live progress to ready (real worker), the library's filters, and scene search."""

from __future__ import annotations


import pytest

from tests.e2e.conftest import kissing_type, screenshot, wait_until
from tests.e2e.test_player import current_time

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_sign_in_and_the_empty_library(browser_context, user):
    kissing_type()
    context, _ = browser_context
    page = context.new_page()
    page.goto("/")
    assert "/login/" in page.url
    page.locator("#id_username").fill("alice")
    page.locator("#id_password").fill("wrong-password")
    page.locator("button[type=submit]").click()
    assert "do not match" in page.locator(".alert.error").inner_text()
    screenshot(page, "login-error")
    page.locator("#id_password").fill("alice-pass-123")
    page.locator("button[type=submit]").click()
    page.wait_for_url("**/")
    page.wait_for_selector(".empty")
    assert "Your library is empty" in page.locator(".empty").inner_text()
    assert page.locator(".user-box").inner_text().startswith("alice")
    screenshot(page, "library-empty")
    page.locator(".user-box button").click()
    page.wait_for_url("**/login/")
    screenshot(page, "login")


def test_upload_accepts_videos_and_refuses_what_is_not_one(page_as, console, user, small_video, tmp_path):
    from kissweb.library.models import Movie

    kissing_type()
    console.allow("status of 415")  # the text file below is refused on purpose
    page = page_as(user)
    page.goto("/upload/")
    screenshot(page, "upload-empty")
    not_video = tmp_path / "notes.mp4"
    not_video.write_text("this is a text file, not a movie\n" * 50)
    page.locator("#file-input").set_input_files([str(small_video), str(not_video)])

    page.wait_for_selector('.upload-item.error[data-file="notes.mp4"]')
    reason = page.locator('.upload-item[data-file="notes.mp4"] .message').inner_text()
    assert "video" in reason.lower(), reason
    row = page.locator('.upload-item[data-file="small.mp4"]')
    page.wait_for_selector('.upload-item[data-file="small.mp4"][data-status]')
    assert row.get_attribute("data-status") in ("queued", "analyzing", "ready")
    assert "Added as" in row.locator(".message").inner_text()
    screenshot(page, "upload")
    movie = Movie.objects.get()  # the text file left nothing behind
    assert movie.title == "small"


def test_a_file_over_the_size_limit_is_refused_with_the_reason(page_as, console, user, small_video, settings):
    from kissweb.library.models import Movie

    kissing_type()
    settings.KISSWEB_MAX_UPLOAD_BYTES = 100_000
    console.allow("status of 413")  # refused on purpose
    page = page_as(user)
    page.goto("/upload/")
    page.locator("#file-input").set_input_files([str(small_video)])
    page.wait_for_selector('.upload-item.error[data-file="small.mp4"]')
    reason = page.locator('.upload-item[data-file="small.mp4"] .message').inner_text()
    assert "larger than" in reason or "too big" in reason.lower(), reason
    screenshot(page, "upload-too-big")
    assert not Movie.objects.exists()


def test_drop_files_on_the_zone(page_as, user, small_video):
    import base64

    from kissweb.library.models import Movie

    kissing_type()
    page = page_as(user)
    page.goto("/upload/")
    page.evaluate(
        """([b64]) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], "dropped clip.mp4", { type: "video/mp4" }));
            const zone = document.getElementById("dropzone");
            zone.dispatchEvent(new DragEvent("dragover", { dataTransfer: dt, bubbles: true, cancelable: true }));
            zone.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
        }""",
        [base64.b64encode(small_video.read_bytes()).decode()],
    )
    page.wait_for_selector('.upload-item[data-file="dropped clip.mp4"][data-status]')
    assert Movie.objects.get().title == "dropped clip"


def test_upload_shows_progress_until_ready(page_as, user, qcluster, small_video):
    from kissweb.library.models import Movie

    kissing_type()
    qcluster(timeout_s=240, retry_s=300)
    page = page_as(user)
    page.goto("/upload/")
    page.locator("#file-input").set_input_files([str(small_video)])
    row = page.locator('.upload-item[data-file="small.mp4"]')
    seen = set()
    for _ in range(900):
        status = row.get_attribute("data-status")
        if status:
            seen.add(status)
        if status in ("ready", "failed"):
            break
        if status == "analyzing" and "screenshot" not in seen:
            screenshot(page, "upload-analysing")
            seen.add("screenshot")
        page.wait_for_timeout(200)
    assert row.get_attribute("data-status") == "ready", row.inner_text()
    assert "Ready" in row.locator(".state").inner_text()
    assert seen & {"queued", "analyzing"}, seen
    screenshot(page, "upload-done")
    movie = Movie.objects.get()
    assert movie.status == "ready"

    # The library shows it, and its page explains that there is no model yet.
    page.goto("/")
    page.wait_for_selector(f'.movie-card[data-movie-id="{movie.pk}"][data-status=ready]')
    page.locator(f'.movie-card[data-movie-id="{movie.pk}"] h3 a').click()
    page.wait_for_selector("#no-model:not([hidden])")
    assert "No kissing model yet" in page.locator("#no-model").inner_text()
    screenshot(page, "movie-no-model")


def test_library_lists_progress_and_filters_by_scene_type(page_as, staff_user, analysed_movie):
    from kissweb.library.models import Movie

    with_scenes = analysed_movie(title="Casablanca", year=1942)
    without = analysed_movie(title="Wild Strawberries", year=1957, bumps=[])
    busy = analysed_movie(title="Tokyo Story", year=1953, bumps=[])
    Movie.objects.filter(pk=busy.pk).update(status="analyzing", progress=0.42, eta_s=95)

    page = page_as(staff_user)
    page.goto("/")
    page.wait_for_selector(".movie-card")
    assert page.locator(".movie-card").count() == 3
    busy_card = page.locator(f'.movie-card[data-movie-id="{busy.pk}"]')
    assert "42%" in busy_card.inner_text() and "left" in busy_card.inner_text()
    assert busy_card.locator("[role=progressbar]").get_attribute("aria-valuenow") == "42"
    # Movies without a stored poster show a frame of the film instead.
    wait_until(
        page, "[...document.querySelectorAll('.movie-card[data-status=ready] img')].filter((i) => i.naturalWidth > 0).length >= 2"
    )
    screenshot(page, "library")

    # Fault 11: its worker is killed; the card stops promising "42%, 2 min left" and says it waits for a worker.
    from datetime import timedelta

    from django.utils import timezone

    from kissweb.jobs import conf
    from tests.runs import analysis_create

    silent_since = timezone.now() - timedelta(seconds=conf.silent_after_s() + 1)
    analysis_create(movie=busy, status="running", run_fields={
        "progress": 0.42, "eta_s": 95.0, "stage": "embedding", "heartbeat_at": silent_since,
        "started_at": silent_since,
    })
    page.wait_for_selector(f'.movie-card[data-movie-id="{busy.pk}"] [data-waiting="1"]', timeout=10_000)
    assert "Waiting for a worker" in busy_card.inner_text() and "left" not in busy_card.inner_text()

    # Progress moves without a reload.
    Movie.objects.filter(pk=busy.pk).update(status="ready", progress=1.0, eta_s=None)
    page.wait_for_selector(f'.movie-card[data-movie-id="{busy.pk}"][data-status=ready]', timeout=10_000)

    page.locator("#f-scene-type").select_option("kissing")
    wait_until(page, "document.querySelectorAll('.movie-card').length === 1")
    assert page.locator(".movie-card").get_attribute("data-movie-id") == str(with_scenes.pk)
    assert "scene_type=kissing" in page.url
    screenshot(page, "library-filtered")
    page.locator("#f-min").select_option("3")
    page.wait_for_selector(".empty")
    assert "No movies match" in page.locator(".empty").inner_text()
    page.locator(".empty button").click()
    wait_until(page, "document.querySelectorAll('.movie-card').length === 3")

    page.locator("#f-search").fill("straw")
    wait_until(page, "document.querySelectorAll('.movie-card').length === 1")
    assert page.locator(".movie-card").get_attribute("data-movie-id") == str(without.pk)


def test_scene_search_opens_the_player_at_the_scene(page_as, staff_user, analysed_movie):
    movie = analysed_movie(title="Casablanca", year=1942)
    analysed_movie(title="Notorious", year=1946)
    page = page_as(staff_user)
    page.goto("/scenes/")
    page.wait_for_selector(".scene-card")
    assert page.locator(".scene-card").count() == 4
    page.locator("#f-search").fill("casa")
    wait_until(page, "document.querySelectorAll('.scene-card').length === 2")
    screenshot(page, "scenes")
    card = page.locator(".scene-card").nth(1)
    start = float(card.get_attribute("data-segment-start"))
    card.click()
    page.wait_for_url(f"**/movies/{movie.pk}/?t=*")
    wait_until(page, "document.querySelector('video').readyState >= 1")
    wait_until(page, f"Math.abs(document.querySelector('video').currentTime - {start}) < 0.6")
    assert abs(current_time(page) - start) < 0.6
