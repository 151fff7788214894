"""Exports from the player in a real browser, made by a real worker: download a scene's clip and the contact sheet.
Add a film from a URL on the Upload page (a local server, allowlisted)."""

from __future__ import annotations

import av
import pytest
from PIL import Image

from tests.e2e.conftest import screenshot, wait_until
from tests.httpserver import FilmServer

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def open_player(page, movie):
    page.goto(f"/movies/{movie.pk}/")
    page.wait_for_selector("#scene-list li[data-segment-start]")
    return page


def download_when_ready(page, item_selector: str, tmp_path, name: str):
    item = page.locator(item_selector).first
    item.locator("a[data-action=download]").wait_for(timeout=120_000)
    assert item.get_attribute("data-status") == "succeeded"
    with page.expect_download() as info:
        item.locator("a[data-action=download]").click()
    path = tmp_path / name
    info.value.save_as(path)
    return info.value, path


def test_download_a_scene_clip_and_the_contact_sheet_from_the_player(page_as, staff_user, analysed_movie, qcluster,
                                                                     tmp_path):
    movie = analysed_movie()
    qcluster(timeout_s=240, retry_s=300, extra_env={"KISSWEB_WORKER_QUEUE": "exports"})  # exports' own queue
    page = open_player(page_as(staff_user), movie)
    first = page.locator("#scene-list li").first
    start, end = float(first.get_attribute("data-segment-start")), float(first.get_attribute("data-segment-end"))

    first.locator("button[data-action=download-clip]").click()
    page.wait_for_selector("#exports-panel:not([hidden]) .export-item")
    screenshot(page, "export-progress")
    download, clip = download_when_ready(page, "#export-list .export-item", tmp_path, "clip.mp4")
    name = download.suggested_filename
    assert name.startswith("Brief-Encounter-clip") and name.endswith(".mp4")
    with av.open(str(clip)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert container.streams.audio[0].codec_context.name == "aac"
        expected = min(end + 1, movie.duration_s) - max(start - 1, 0)
        assert container.duration / 1e6 == pytest.approx(expected, abs=0.2)

    page.locator("#export-contact-sheet").click()
    wait_until(page, "document.querySelectorAll('#export-list .export-item').length === 2")
    download, sheet = download_when_ready(page, "#export-list .export-item", tmp_path, "sheet.png")
    assert download.suggested_filename.endswith("contact-sheet.png")
    image = Image.open(sheet)
    rows = movie.segments.filter(scene_type__slug="kissing").count()
    assert image.format == "PNG" and image.height % rows == 0 and image.width > image.height / rows
    screenshot(page, "export-ready")

    # The exports are still listed after a reload, with their download links.
    page.reload()
    page.wait_for_selector("#export-list .export-item a[data-action=download]")
    assert page.locator("#export-list .export-item").count() == 2


def test_add_from_url_on_the_upload_page(page_as, console, user, qcluster, small_video, settings):
    from kissweb.library.models import Movie

    qcluster(timeout_s=240, retry_s=300,
             extra_env={"KISSWEB_URL_ALLOWED_HOSTS": "127.0.0.1", "KISSWEB_WORKER_QUEUE": "downloads"})
    settings.KISSWEB_URL_ALLOWED_HOSTS = ["127.0.0.1"]  # the web side checks the address before queueing
    with FilmServer() as server:
        server.serve_file("/Brief_Encounter.mp4", small_video)
        page = page_as(user)
        page.goto("/upload/")
        page.fill("#url-input", server.url("/Brief_Encounter.mp4"))
        page.click("#url-add")
        wait_until(page, "['queued', 'analyzing', 'ready'].includes(document.querySelector('.upload-item')"
                         "?.dataset.status)", timeout=60_000)
        screenshot(page, "upload-from-url")
    movie = Movie.objects.get()
    assert movie.title == "Brief Encounter" and movie.sha256 and movie.source_url.endswith("/Brief_Encounter.mp4")

    # A refused address is said on the row, and nothing is added.
    console.allow("status of 400")
    page.fill("#url-input", "http://169.254.169.254/latest/meta-data/")
    page.click("#url-add")
    failed = page.locator('.upload-item[data-file="http://169.254.169.254/latest/meta-data/"]')
    failed.locator(".message").wait_for()
    assert "private network" in failed.locator(".message").inner_text()
    assert Movie.objects.count() == 1
