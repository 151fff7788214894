"""The browser app's pages: they render for a signed-in person, send others to the login page, and carry their hooks."""

from __future__ import annotations

import hashlib
import uuid

import pytest
from django.test import Client

from kissweb.library.models import Movie

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def movie(user) -> Movie:
    content = uuid.uuid4().bytes
    return Movie.objects.create(
        title="Brief Encounter", year=1945, original_filename="brief.mp4", file="movies/x.mp4",
        size_bytes=len(content), sha256=hashlib.sha256(content).hexdigest(), duration_s=86.0,
        width=320, height=240, fps=25, has_audio=True, uploaded_by=user, status="ready",
    )


@pytest.mark.parametrize(
    ("url", "script", "marker"),
    [
        ("/", "js/library.js", 'id="library-results"'),
        ("/upload/", "js/upload.js", 'id="dropzone"'),
        ("/scenes/", "js/scenes.js", 'id="scene-results"'),
    ],
)
def test_pages_render_for_a_signed_in_person(browser, user, url, script, marker):
    response = browser.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert marker in html
    assert f'src="/static/{script}"' in html and 'type="module"' in html
    assert user.username in html
    for link in ('href="/"', 'href="/upload/"', 'href="/scenes/"', 'href="/scene-types/"'):
        assert link in html
    assert 'action="/logout/"' in html


@pytest.mark.parametrize("url", ["/", "/upload/", "/scenes/", "/movies/1/"])
def test_pages_need_a_login(url):
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={url}"


def test_movie_page_has_one_player_and_the_test_hooks(browser, movie):
    response = browser.get(f"/movies/{movie.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count("<video") == 1
    assert f'src="/api/movies/{movie.pk}/playback/"' in html  # the film itself, or its playable copy
    assert f'src="/api/movies/{movie.pk}/chapters.vtt"' in html and 'kind="chapters"' in html
    assert 'data-testid="timeline"' in html
    assert f'data-movie-id="{movie.pk}"' in html
    assert "Brief Encounter" in html
    assert "Keyboard shortcuts" in html


def test_movie_page_of_a_missing_movie_is_404(browser):
    assert browser.get("/movies/987654/").status_code == 404


def test_scene_type_page_of_a_missing_scene_type_is_404(browser):
    assert browser.get("/scene-types/no-such-type/").status_code == 404


def test_login_page_signs_in_and_out(user):
    client = Client(enforce_csrf_checks=False)
    page = client.get("/login/")
    assert page.status_code == 200 and b'name="username"' in page.content
    wrong = client.post("/login/", {"username": "alice", "password": "nope"})
    assert wrong.status_code == 200 and b"do not match" in wrong.content
    right = client.post("/login/", {"username": "alice", "password": "alice-pass-123", "next": "/scenes/"})
    assert right.status_code == 302 and right["Location"] == "/scenes/"
    assert client.get("/").status_code == 200
    out = client.post("/logout/")
    assert out.status_code == 302 and out["Location"] == "/login/"
    assert client.get("/").status_code == 302


def test_static_files_the_pages_load_exist(browser, movie):
    from django.contrib.staticfiles import finders

    for name in ["css/app.css", "js/api.js", "js/library.js", "js/upload.js", "js/movie.js", "js/timeline.js",
                 "js/aggregate.js", "js/scenes.js", "js/movie_state.js", "js/movie_playback.js",
                 "js/movie_annotate.js"]:
        assert finders.find(name), name


def test_nav_marks_the_page_you_are_on(browser):
    html = browser.get("/scenes/").content.decode()
    assert '<a href="/scenes/" aria-current="page">' in html
    assert '<a href="/" >' in html or '<a href="/">' in html
