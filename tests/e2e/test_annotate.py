"""Annotation mode in a real browser: mark spans by dragging and by keys, label, edit, delete, confirm, reject."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import screenshot, wait_until
from tests.e2e.test_player import current_time, listed_scenes, open_movie

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_mark_label_edit_and_delete_spans(page_as, staff_user, analysed_movie):
    from kissweb.library.models import Annotation

    movie = analysed_movie()
    page = open_movie(page_as(staff_user), movie)
    page.locator("#annotate-toggle").click()
    assert page.locator("#annotate-panel").is_visible()

    # Drag across the timeline from 10% to 30% of the film: a span, labelled "is not".
    timeline = page.get_by_test_id("timeline")
    box = timeline.bounding_box()
    y = box["y"] + 10
    page.mouse.move(box["x"] + box["width"] * 0.10, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.20, y, steps=5)
    page.mouse.move(box["x"] + box["width"] * 0.30, y, steps=5)
    page.mouse.up()
    start = float(page.locator("#ann-start").input_value())
    end = float(page.locator("#ann-end").input_value())
    duration = movie.duration_s
    assert abs(start - duration * 0.10) < 1.0 and abs(end - duration * 0.30) < 1.0
    page.locator('input[name="ann-label"][value="negative"]').check()
    screenshot(page, "movie-annotate-span")
    page.locator("#ann-save").click()
    page.wait_for_selector("#annotation-list li[data-annotation-id]")
    dragged = Annotation.objects.get()
    assert dragged.label == "negative" and dragged.author == staff_user
    assert dragged.start_s == pytest.approx(start) and dragged.end_s == pytest.approx(end)

    # Keys: I at 40 s, O at 44.5 s, Enter saves a positive label.
    page.evaluate("document.querySelector('video').currentTime = 40")
    page.get_by_test_id("timeline").focus()
    page.keyboard.press("i")
    page.evaluate("document.querySelector('video').currentTime = 44.5")
    page.keyboard.press("o")
    page.locator('input[name="ann-label"][value="positive"]').check()
    page.get_by_test_id("timeline").focus()
    page.keyboard.press("Enter")
    wait_until(page, "document.querySelectorAll('#annotation-list li[data-annotation-id]').length === 2")
    keyed = Annotation.objects.exclude(pk=dragged.pk).get()
    assert (keyed.start_s, keyed.end_s, keyed.label) == (40.0, 44.5, "positive")

    # Edit the dragged one: becomes positive.
    page.locator(f'#annotation-list li[data-annotation-id="{dragged.pk}"] [data-action=edit]').click()
    page.locator('input[name="ann-label"][value="positive"]').check()
    page.locator("#ann-save").click()
    page.wait_for_selector(f'#annotation-list li[data-annotation-id="{dragged.pk}"][data-label=positive]')
    dragged.refresh_from_db()
    assert dragged.label == "positive"
    screenshot(page, "movie-annotations")

    # Delete the keyed one.
    page.locator(f'#annotation-list li[data-annotation-id="{keyed.pk}"] [data-action=delete]').click()
    wait_until(page, "document.querySelectorAll('#annotation-list li[data-annotation-id]').length === 1")
    assert list(Annotation.objects.values_list("pk", flat=True)) == [dragged.pk]


def test_a_marked_span_becomes_a_manual_scene(page_as, staff_user, analysed_movie):
    movie = analysed_movie()
    page = open_movie(page_as(staff_user), movie)
    page.keyboard.press("a")
    page.locator("#ann-start").fill("16")
    page.locator("#ann-end").fill("20")
    page.locator("#ann-add-scene").click()
    page.wait_for_selector("#scene-list li[data-source=manual]")
    manual = movie.segments.get(source="manual")
    assert (manual.start_s, manual.end_s) == (16.0, 20.0)
    assert (16.0, 20.0) in listed_scenes(page)
    assert page.locator("#lanes .seg.manual").count() == 1


def test_confirm_and_reject_detected_scenes(page_as, staff_user, analysed_movie):
    from kissweb.library.models import Annotation

    movie = analysed_movie()
    page = open_movie(page_as(staff_user), movie)
    first, second = page.locator("#scene-list li").nth(0), page.locator("#scene-list li").nth(1)
    first_id = int(first.get_attribute("data-segment-id"))
    second_id = int(second.get_attribute("data-segment-id"))
    first.locator("[data-action=confirm]").click()
    page.wait_for_selector("#scene-list li:nth-child(1) .badge.ok")
    page.locator("#scene-list li").nth(1).locator("[data-action=reject]").click()
    page.wait_for_selector("#scene-list li:nth-child(2) .badge.bad")
    labels = {a.segment_id: a.label for a in Annotation.objects.all()}
    assert labels == {first_id: "positive", second_id: "negative"}
    assert page.locator("#scene-list li").nth(0).locator("[data-action=confirm]").is_disabled()
    screenshot(page, "movie-reviewed")
    # Clicking a reviewed scene still plays it.
    page.locator("#scene-list li").nth(1).locator("button.when").click()
    assert abs(current_time(page) - listed_scenes(page)[1][0]) < 1.0
