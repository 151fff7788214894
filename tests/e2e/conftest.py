"""Browser tests: a live Django server, Debian's Chromium driven by Playwright, screenshots under test-output/."""

from __future__ import annotations

import hashlib
import os
import shutil
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from tests.qcluster import qcluster  # noqa: E402,F401  (a real worker for the upload test)
from tests.runs import analysis_create

REPO = Path(__file__).resolve().parent.parent.parent
SCREENSHOTS = REPO / "test-output" / "screenshots"
CHROMIUM = os.environ.get("KISSWEB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--autoplay-policy=no-user-gesture-required",
]
# Messages of the browser itself that say nothing about the app.
IGNORED_CONSOLE = ("Download the React DevTools",)


@pytest.fixture(scope="module")
def chromium():
    """One browser per test module, closed when the module is done.

    Module scope, not package: a test module elsewhere that imports this fixture (tests/kissweb/training's browser
    pages) registers its own copy, and pytest ties a package-scoped fixture defined outside a package's conftest to
    the whole session. That copy's Playwright then still ran when the e2e package started its own, which Playwright
    refuses ("Sync API inside the asyncio loop"), so the tests passed in one order only. Per module, every copy is
    closed before the next module's opens, in any order, and the event loop it keeps is gone before other tests run.
    """
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the ORM calls of fixtures and assertions are still
    # plain synchronous code. Only while the browser is up.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


class Console:
    """Console errors and uncaught exceptions of every page in a browser context."""

    def __init__(self):
        self.errors: list[str] = []
        self.allowed: list[str] = []

    def allow(self, text: str) -> None:
        """An error the test provokes on purpose (Chromium logs every HTTP error response of a fetch/XHR)."""
        self.allowed.append(text)

    def attach(self, page) -> None:
        page.on("console", lambda msg: self._on_console(page, msg))
        page.on("pageerror", lambda exc: self.errors.append(f"{page.url}: uncaught {exc}"))

    def _on_console(self, page, msg) -> None:
        if msg.type == "error" and not any(text in msg.text for text in (*IGNORED_CONSOLE, *self.allowed)):
            self.errors.append(f"{page.url}: {msg.text} @ {msg.location}")


@pytest.fixture
def browser_context(chromium, live_server):
    """A fresh browser profile; every page opened in it is watched for console errors (asserted at teardown)."""
    console = Console()
    # Reduced motion: scrolling is instant, so no smooth scroll moves an element between a test's reading its
    # position and its pointer reaching it (a drag on the timeline failed that way on a busy machine).
    context = chromium.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 860},
                                   reduced_motion="reduce")
    context.on("page", console.attach)
    context.set_default_timeout(15_000)
    yield context, console
    context.close()
    assert not console.errors, "browser console errors:\n" + "\n".join(console.errors)


def sign_in(context, live_server, user) -> None:
    """Put a session cookie for `user` into the browser (the login form itself is tested separately)."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])


@pytest.fixture
def console(browser_context) -> Console:
    return browser_context[1]


@pytest.fixture
def page_as(browser_context, live_server):
    """page_as(user) -> a Playwright page signed in as user."""
    context, _ = browser_context

    def open_page(user):
        sign_in(context, live_server, user)
        return context.new_page()

    return open_page


def wait_until(page, expression: str, *, timeout: float = 15_000) -> None:
    """Wait until a JavaScript expression is true in the page. Playwright's wait_for_function evaluates its
    predicate with eval() inside the page, which the Content-Security-Policy refuses; this asks through DevTools,
    which the policy does not govern."""
    deadline = time.monotonic() + timeout / 1000
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise TimeoutError(f"still false after {timeout:g} ms: {expression}")
        page.wait_for_timeout(50)


def screenshot(page, name: str, *, full_page: bool = True) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    if full_page:
        page.evaluate("window.scrollTo(0, 0)")
    try:  # thumbnails are made on demand; give the visible ones a moment
        wait_until(page, "[...document.images].every((img) => img.complete)", timeout=8000)
    except Exception:  # noqa: BLE001 - a screenshot with a placeholder is still a screenshot
        pass
    page.screenshot(path=str(path), full_page=full_page)
    return path


@pytest.fixture(scope="session")
def clip_60s(tmp_path_factory) -> Path:
    """A 60-second H.264/AAC clip with a keyframe every second, so seeks land exactly."""
    from tests.mediagen import make_video

    return make_video(
        tmp_path_factory.mktemp("e2e") / "clip60.mp4", duration_s=60.0, size="320x180", fps=10,
        extra=("-g", "10", "-movflags", "+faststart"),
    )


def kissing_type():
    from kissweb.library.models import SceneType

    # Transactional tests empty the tables between tests; the seeded scene type comes back here.
    scene_type, _ = SceneType.objects.get_or_create(
        slug="kissing", defaults={"name": "Kissing", "description": "Two people kissing (Ziai, 2019)."}
    )
    return scene_type


def scores_with_bumps(n: int, bumps: list[tuple[int, int, float]]) -> np.ndarray:
    """A per-second score track: low everywhere, `value` on [start, end) for each bump."""
    scores = np.full(n, 0.08, dtype=np.float32)
    for start, end, value in bumps:
        scores[start:end] = value
    return scores


# Two sure scenes the default settings find, and one unsure stretch that only a higher sensitivity finds.
BUMPS = [(2, 13, 0.9), (24, 35, 0.85), (47, 58, 0.4)]


@pytest.fixture
def analysed_movie(transactional_db, clip_60s, staff_user, settings):
    """A ready movie with an active model, a stored score track and the detected segments the server would write."""
    import detector
    from kissweb.analysis.models import ModelVersion, ScoreTrack
    from kissweb.library.models import Movie, Segment

    def make(*, title="Brief Encounter", year=1945, uploaded_by=None, bumps=BUMPS):
        scene_type = kissing_type()
        name = f"movies/{uuid.uuid4().hex}.mp4"
        target = Path(settings.MEDIA_ROOT) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(clip_60s, target)
        info = detector.probe(target)
        content = target.read_bytes()
        movie = Movie.objects.create(
            title=title, year=year, original_filename="clip.mp4", file=name, size_bytes=len(content),
            sha256=hashlib.sha256(content + uuid.uuid4().bytes).hexdigest(), duration_s=info.duration_s,
            width=info.width, height=info.height, fps=info.fps, has_audio=info.has_audio,
            uploaded_by=uploaded_by or staff_user, status="ready", progress=1.0,
        )
        model = ModelVersion.objects.filter(scene_type=scene_type, is_active=True).first() or ModelVersion.objects.create(
            scene_type=scene_type, name="e2e head", backbone_set="offline", is_active=True, status="ready",
        )
        analysis = analysis_create(movie=movie, backbone_set="offline")
        scores = scores_with_bumps(int(info.duration_s), bumps)
        ScoreTrack.objects.create(
            movie=movie, scene_type=scene_type, model_version=model, analysis=analysis,
            scores=scores.astype("<f4").tobytes(), n_windows=len(scores),
        )
        for seg in detector.aggregate_probabilities(
            scores, cut=scene_type.cut, min_frames=scene_type.min_frames, threshold=scene_type.threshold
        ):
            Segment.objects.create(
                movie=movie, scene_type=scene_type, start_s=seg.start_s, end_s=min(seg.end_s, movie.duration_s),
                confidence=seg.confidence, source="detected", analysis=analysis, model_version=model,
            )
        return movie

    return make
