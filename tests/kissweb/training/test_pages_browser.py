"""The scene-type pages in a real browser: add a type, train with visible progress, compare, activate, label next."""

from __future__ import annotations

import numpy as np
import pytest

from tests.e2e.conftest import browser_context, chromium, kissing_type, page_as, screenshot  # noqa: F401 (fixtures)
from tests.kissweb.training.conftest import annotate, movie_with_scenes

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_add_a_scene_type_from_the_list_page(page_as, staff_user):  # noqa: F811
    from kissweb.library.models import SceneType

    kissing_type()
    page = page_as(staff_user)
    page.goto("/scene-types/")
    page.wait_for_selector('[data-slug="kissing"]')
    page.fill("#st-name", "Car chase")
    assert page.input_value("#st-slug") == "car-chase"
    page.fill("#st-description", "Cars chasing each other")
    page.click("#scene-type-form button[type=submit]")
    page.wait_for_selector('[data-slug="car-chase"]')
    assert SceneType.objects.get(slug="car-chase").name == "Car chase"
    screenshot(page, "scene-types-list")


def test_train_watch_progress_compare_and_activate(page_as, staff_user):  # noqa: F811
    from kissweb.analysis.models import ModelVersion, ScoreTrack
    from kissweb.training import services
    from kissweb.training.models import TrainingRun

    kissing = kissing_type()
    for seed in range(3):
        movie = movie_with_scenes(staff_user, kinds=[0] * 20 + [1] * 20 + [0] * 20, seed=seed)
        annotate(movie, kissing, 0, 20, "negative", staff_user)
        annotate(movie, kissing, 20, 40, "positive", staff_user)
        annotate(movie, kissing, 40, 60, "negative", staff_user)
    page = page_as(staff_user)
    page.goto("/scene-types/kissing/")
    page.wait_for_selector("#annotation-summary:has-text('Ready to train')")
    page.click("#train-button")
    page.wait_for_selector("[data-testid=training-progress] [data-status=queued]")
    run = TrainingRun.objects.get()
    screenshot(page, "scene-type-training-queued")

    services.training_run(run_id=run.pk)  # the worker's part, here in the test
    page.wait_for_selector("[data-testid=training-progress] [data-status=succeeded]")
    version = ModelVersion.objects.get()
    card = page.locator(f'[data-version="{version.pk}"]')
    card.wait_for()
    assert "Held-out check" in card.inner_text() and "nobody has reviewed" in card.inner_text()
    # one held-out span per label: too few to judge the version on its own, and the card says so (issue 19 item 19)
    assert "Too few held-out spans" in card.inner_text() and "Scenes found" not in card.inner_text()
    finished = page.locator("[data-testid=training-progress] [data-status=succeeded]")
    assert finished.locator(".progress").count() == 0  # no half-full bar once training has finished
    assert card.locator("a[download]").get_attribute("href") == f"/api/models/{version.pk}/download/"

    card.locator("[data-activate]").click()
    confirm = card.locator("[data-testid=activation-confirm]")
    confirm.wait_for()
    assert "re-scores 3 film(s) from stored embeddings; no video is decoded" in confirm.inner_text()
    assert not ModelVersion.objects.filter(is_active=True).exists()  # nothing happens before the confirmation
    assert card.locator("[data-testid=model-card]").inner_text() == "offline · RGB · ImageNet backbones"
    confirm.locator("[data-confirm-activate]").click()
    page.wait_for_selector(f'[data-version="{version.pk}"].active')
    version.refresh_from_db()
    assert version.is_active
    screenshot(page, "scene-type-versions")

    page.fill("#set-min-frames", "5")
    page.fill("#set-threshold", "0.8")
    page.click("#settings-form button[type=submit]")
    page.wait_for_selector(".toast.ok >> text=Every movie's scenes")
    kissing.refresh_from_db()
    assert (kissing.min_frames, kissing.threshold) == (5, 0.8)
    # The re-derivation is a queued run with the one progress widget (issue 12), not work inside the request.
    page.wait_for_selector("[data-testid=rederive-progress] [data-status=queued]")
    from kissweb.analysis.rederive import RederiveRunner
    from kissweb.jobs.models import Run

    assert RederiveRunner.execute(Run.objects.get(kind="rederive").pk) == "succeeded"  # the worker's part
    page.wait_for_selector("[data-testid=rederive-progress] [data-status=succeeded]", timeout=10_000)

    # The active model is unsure on seconds 70..78 of an unlabelled movie: "label next" links there.
    unlabelled = movie_with_scenes(staff_user, kinds=[0] * 100, seed=9)
    scores = np.full(100, 0.03, dtype="<f4")
    scores[70:78] = 0.52
    ScoreTrack.objects.create(movie=unlabelled, scene_type=kissing, model_version=version,
                              scores=scores.tobytes(), n_windows=100)
    page.reload()
    link = page.locator(f'.st-suggestion[data-movie="{unlabelled.pk}"] a')
    link.wait_for()
    assert link.get_attribute("href") == f"/movies/{unlabelled.pk}/?t=70&annotate=1"
    assert "unsure" in page.locator(f'.st-suggestion[data-movie="{unlabelled.pk}"]').inner_text()
    screenshot(page, "scene-type-label-next")
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "no sideways scrolling on a phone"
    screenshot(page, "scene-type-phone")


def test_import_the_published_model_then_activate_and_roll_back(
    page_as, browser_context, staff_user, tmp_path  # noqa: F811
):
    from kissweb.analysis.services import model_version_activate
    from kissweb.analysis.models import ModelVersion
    from kissweb.training import services
    from tests.kissweb.training.test_reference_import import published_pickle

    kissing = kissing_type()
    for seed in range(2):
        movie = movie_with_scenes(staff_user, kinds=[0] * 20 + [1] * 20, seed=seed)
        annotate(movie, kissing, 0, 20, "negative", staff_user)
        annotate(movie, kissing, 20, 40, "positive", staff_user)
    first = services.training_run(
        run_id=services.training_request(scene_type=kissing, requested_by=staff_user, queue=False).pk
    ).model_version
    second = services.training_run(
        run_id=services.training_request(scene_type=kissing, requested_by=staff_user, queue=False).pk
    ).model_version
    model_version_activate(model_version=second)

    _, content = published_pickle()
    pkl = tmp_path / "model.pkl"
    pkl.write_bytes(content)
    page = page_as(staff_user)
    page.goto("/scene-types/kissing/")
    page.wait_for_selector(f'[data-version="{second.pk}"].active')
    assert page.locator("#import-form").count() == 0  # one form for every model file (issue 19 item 22)
    page.set_input_files("#model-file", str(pkl))
    page.click("#upload-form button[type=submit]")
    # about 330 MB up, then unpickled safely, checked and converted: more than the default wait
    page.wait_for_selector(".st-version >> text=Published model (Ziai 2019)", timeout=180_000)
    imported = ModelVersion.objects.get(name="Published model (Ziai 2019)")
    assert imported.backbone_set == "published" and imported.card["channel_order"] == "BGR"
    card = page.locator(f'[data-version="{imported.pk}"]')
    assert "Reported by its authors" in card.inner_text()
    assert card.locator("[data-testid=model-card]").inner_text() == "published · BGR · fine-tuned backbones"

    # The published model runs on its own backbones: activating it decodes the films once for them.
    card.locator("[data-activate]").click()
    card.locator("[data-confirm-activate]").click()
    page.wait_for_selector(f'[data-version="{imported.pk}"].active')
    imported.refresh_from_db()
    assert imported.is_active

    roll_back = page.locator(f'[data-version="{first.pk}"] [data-activate]')
    assert roll_back.inner_text() == "Roll back to this"
    screenshot(page, "scene-type-roll-back")
    roll_back.click()
    page.locator(f'[data-version="{first.pk}"] [data-confirm-activate]').click()
    page.wait_for_selector(f'[data-version="{first.pk}"].active')
    first.refresh_from_db()
    imported.refresh_from_db()
    assert first.is_active and not imported.is_active


def _run_quality(scene_type) -> str:
    from kissweb.jobs.models import Run
    from kissweb.training.services import QualityRunner

    run = Run.objects.get(kind=QualityRunner.kind, subject_id=scene_type.pk, status="queued")
    return QualityRunner.execute(run.pk)


def test_the_page_measures_cross_validated_quality_and_warns_when_it_rests_on_too_few(page_as, staff_user):  # noqa: F811
    kissing = kissing_type()
    for seed in range(3):
        movie = movie_with_scenes(staff_user, kinds=[0] * 20 + [1] * 20 + [0] * 20, seed=seed)
        annotate(movie, kissing, 0, 20, "negative", staff_user)
        annotate(movie, kissing, 20, 40, "positive", staff_user)
    page = page_as(staff_user)
    page.goto("/scene-types/kissing/")
    page.wait_for_selector("[data-testid=quality] [data-state=measuring]")  # staff: queued on its own
    assert _run_quality(kissing) == "succeeded"  # the worker's part, here in the test
    box = page.locator("[data-testid=quality] [data-state=current]")
    box.wait_for()
    assert box.get_attribute("data-enough") == "0"
    text = box.inner_text()
    assert "Measured on 120 labelled seconds (60 of kissing) in 3 movies" in text
    # too little to know: said plainly, in sentences, and no figure that looks trustworthy (issue 19 item 19)
    assert "Too little is labelled to know how good a model would be." in text
    assert "It needs at least 3 movies with kissing and 3 without; there are 3 with and 0 without." in text
    assert "F1 (cross-validated)" not in text and "false alarms" not in text.replace("raise false alarms", "")
    screenshot(page, "scene-type-quality-too-few")

    for seed in range(3, 6):
        movie = movie_with_scenes(staff_user, kinds=[0] * 50 + [1] * 10, seed=seed)
        annotate(movie, kissing, 0, 50, "negative", staff_user)
        annotate(movie, kissing, 50, 60, "positive", staff_user)
    page.reload()
    page.wait_for_selector("[data-testid=quality] [data-state=measuring]")
    assert _run_quality(kissing) == "succeeded"
    box = page.locator("[data-testid=quality] [data-state=current]")
    box.wait_for()
    assert box.get_attribute("data-enough") == "1" and "Too little is labelled" not in box.inner_text()
    assert "in 6 movies" in box.inner_text() and "F1 (cross-validated)" in box.inner_text()


def test_get_the_published_model_offline_says_how_to_do_it_by_hand(page_as, browser_context, staff_user,  # noqa: F811
                                                                     settings):
    import socket

    from kissweb.jobs.models import Run
    from kissweb.analysis.model_files import PublishedModelFetchRunner

    kissing_type()
    with socket.socket() as probe:  # a port nobody listens on: as a machine without internet
        probe.bind(("127.0.0.1", 0))
        settings.KISSWEB_PUBLISHED_MODEL_URL = f"http://127.0.0.1:{probe.getsockname()[1]}/uc?export=download&id=X"
    page = page_as(staff_user)
    page.goto("/scene-types/kissing/")
    page.click("#fetch-published-button")
    page.wait_for_selector("[data-testid=fetch-progress] [data-status=queued]")
    run = Run.objects.get(kind=PublishedModelFetchRunner.kind)
    assert PublishedModelFetchRunner.execute(run.pk) == "failed"  # the worker's part, here in the test
    failed = page.locator("[data-testid=fetch-progress] [data-status=failed]")
    failed.wait_for()
    text = failed.inner_text()
    assert "Could not get the published model" in text and "Download model.pkl by hand" in text
    assert "Upload a model file" in text and "./kiss manage activate_model model.pkl" in text
    assert page.is_enabled("#fetch-published-button")
    screenshot(page, "scene-type-fetch-offline")


def test_get_the_published_model_shows_its_download_progress_and_a_failure_survives_a_reload(
    page_as, browser_context, staff_user, settings, tmp_path  # noqa: F811
):
    """Issue 19 item 18: while the model downloaded, every poll failed ("formatEta is not defined") and the box stayed
    on "Queued…"; a failed fetch vanished on reload; the host's address was plain text. Here the fetch runs against a
    local imitation of the host that sends the file slowly, while the page follows it."""
    import re
    import threading
    import time

    from django.db import connection

    from kissweb.jobs.models import Run
    from kissweb.analysis.model_files import PublishedModelFetchRunner
    from tests.detector.test_fetch import FakeDrive, Handler

    class SlowHandler(Handler):
        def _file(self, drive):
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(drive.content)))
            self.end_headers()
            for start in range(0, len(drive.content), 32_768):
                self.wfile.write(drive.content[start:start + 32_768])
                self.wfile.flush()
                time.sleep(0.1)

    class SlowDrive(FakeDrive):
        def __init__(self, content):
            super().__init__(content)
            self.RequestHandlerClass = SlowHandler

    settings.MEDIA_ROOT = tmp_path / "media"
    kissing_type()
    server = SlowDrive(b"not a pickle at all " * 100_000)  # 2 MB: about 6 s at this pace; then no model in it
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.KISSWEB_PUBLISHED_MODEL_URL = server.url
    outcome: list[str] = []

    def worker(run_id: int) -> None:  # the worker's part, here in the test, while the page polls
        try:
            outcome.append(PublishedModelFetchRunner.execute(run_id))
        finally:
            connection.close()

    try:
        page = page_as(staff_user)
        page.goto("/scene-types/kissing/")
        page.click("#fetch-published-button")
        page.wait_for_selector("[data-testid=fetch-progress] [data-status=queued]")
        thread = threading.Thread(target=worker, args=(Run.objects.get(kind=PublishedModelFetchRunner.kind).pk,))
        thread.start()
        running = page.locator("[data-testid=fetch-progress] [data-status=running]")
        running.wait_for(timeout=20_000)
        seen = set()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and running.count():
            text = running.inner_text()
            if match := re.search(r"downloading model\.pkl… (\d+)%", text):
                seen.add(int(match.group(1)))
                assert "left" in text or "estimating" in text or "almost done" in text  # the time left shows
            page.wait_for_timeout(200)
        screenshot(page, "scene-type-fetch-progress")
        thread.join(timeout=60)
        assert outcome == ["failed"]  # the imitation serves no model: the import refuses it
        assert any(0 < pct < 85 for pct in seen), seen  # progress moved while it downloaded

        failed = page.locator("[data-testid=fetch-progress] [data-status=failed]")
        failed.wait_for()
        assert "not the published model" in failed.inner_text()
        page.reload()
        failed.wait_for()  # a failed fetch is still said after a reload
        assert "Could not get the published model" in failed.inner_text()
    finally:
        server.shutdown()
        server.server_close()


def test_an_offline_fetch_links_to_the_file_and_says_why_in_words(page_as, browser_context, staff_user,  # noqa: F811
                                                                  settings):
    import socket

    from kissweb.jobs.models import Run
    from kissweb.analysis.model_files import PublishedModelFetchRunner

    kissing_type()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        settings.KISSWEB_PUBLISHED_MODEL_URL = f"http://127.0.0.1:{probe.getsockname()[1]}/uc?export=download&id=X"
    assert PublishedModelFetchRunner.execute(
        PublishedModelFetchRunner.request(subject_id=kissing_type().pk, requested_by=staff_user, enqueue=False).pk
    ) == "failed"
    page = page_as(staff_user)
    page.goto("/scene-types/kissing/")
    failed = page.locator("[data-testid=fetch-progress] [data-status=failed]")
    failed.wait_for()
    link = failed.locator("a[href^='https://drive.google.com/']")
    assert link.count() == 1 and link.get_attribute("rel") == "noopener noreferrer"
    assert "Errno" not in failed.inner_text() and "the connection was refused" in failed.inner_text()
    assert Run.objects.filter(kind=PublishedModelFetchRunner.kind).count() == 1


def test_a_figure_with_no_other_seconds_scored_claims_no_false_alarm_rate(page_as, staff_user):  # noqa: F811
    """Issue 19 item 19: F1 100% and "0 s false alarms" when not one second without the scene was scored."""
    kissing = kissing_type()
    for seed in range(3):  # the scene only: a fold holding the one other movie trains on one label and scores nothing
        movie = movie_with_scenes(staff_user, kinds=[1] * 30, seed=seed)
        annotate(movie, kissing, 0, 15, "positive", staff_user)
        annotate(movie, kissing, 15, 30, "positive", staff_user)
    other = movie_with_scenes(staff_user, kinds=[0] * 30, seed=7)
    annotate(other, kissing, 0, 15, "negative", staff_user)
    annotate(other, kissing, 15, 30, "negative", staff_user)
    page = page_as(staff_user)
    page.goto("/scene-types/kissing/")
    page.wait_for_selector("[data-testid=quality] [data-state=measuring]")
    assert _run_quality(kissing) == "succeeded"
    box = page.locator("[data-testid=quality] [data-state=current]")
    box.wait_for()
    text = box.inner_text()
    assert "No seconds without kissing could be scored, so nobody can tell how often it would raise false alarms." in text
    assert "s per 10 min" not in text and "F1 (cross-validated)" not in text
    screenshot(page, "scene-type-quality-one-sided")
