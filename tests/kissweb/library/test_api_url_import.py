"""POST /api/movies/ with {"url"}: 202 with the movie `downloading`, then it becomes an upload (hash, probe, poster,
analysis queued). Against a local HTTP server on 127.0.0.1, allowlisted here; refusals leave no file."""

from __future__ import annotations

import hashlib

import pytest

from kissweb.jobs.models import Run
from kissweb.library.models import Movie
from tests.httpserver import FilmServer, chunked
from tests.kissweb.exports.conftest import run_queued
from tests.kissweb.library.conftest import files_under
from tests.openapi import assert_matches_schema

pytestmark = pytest.mark.django_db


@pytest.fixture
def server(small_video, settings):
    settings.KISSWEB_URL_ALLOWED_HOSTS = ["127.0.0.1"]
    with FilmServer() as s:
        s.serve_file("/films/Brief_Encounter.mp4", small_video)
        yield s


def add(client, url: str, **extra):
    return client.post("/api/movies/", {"url": url, **extra}, format="json")


def test_a_film_link_is_downloaded_then_goes_the_way_of_an_upload(api_client, server, small_video, media_root):
    response = add(api_client, server.url("/films/Brief_Encounter.mp4"))
    assert response.status_code == 202, response.content
    assert_matches_schema(response, "post", "/api/movies/")
    body = response.json()
    assert body["status"] == "downloading" and body["progress"] == 0 and body["title"] == "Brief Encounter"
    assert body["duration_s"] is None
    run = Run.objects.get(kind="url_download")
    assert run.subject_id == body["id"] and run.status == "queued"

    assert run_queued("url_download") == ["succeeded"]
    movie = Movie.objects.get(pk=body["id"])
    assert movie.status == "queued" and movie.sha256 == hashlib.sha256(small_video.read_bytes()).hexdigest()
    assert movie.duration_s == pytest.approx(4.0, abs=0.1) and movie.width == 320 and movie.poster
    assert movie.source_url == server.url("/films/Brief_Encounter.mp4") and movie.title == "Brief Encounter"
    assert Run.objects.filter(subject_type="movie", subject_id=movie.pk).exclude(kind="url_download").exists()
    assert sorted(p.parent.name for p in files_under(media_root)) == ["movies", "posters"]


def test_a_given_title_is_kept(api_client, server):
    movie_id = add(api_client, server.url("/films/Brief_Encounter.mp4"), title="Brief Encounter (1945)").json()["id"]
    run_queued("url_download")
    assert Movie.objects.get(pk=movie_id).title == "Brief Encounter (1945)"


def test_the_same_file_twice_is_a_duplicate(api_client, server, media_root):
    first = add(api_client, server.url("/films/Brief_Encounter.mp4")).json()["id"]
    run_queued("url_download")
    second = add(api_client, server.url("/films/Brief_Encounter.mp4")).json()["id"]
    assert run_queued("url_download") == ["failed"]
    movie = Movie.objects.get(pk=second)
    assert movie.status == "failed" and f"movie {first}" in movie.error and not movie.file
    assert len([p for p in files_under(media_root) if p.parent.name == "movies"]) == 1


def test_a_private_address_is_refused_at_once(api_client, small_video, settings):
    settings.KISSWEB_URL_ALLOWED_HOSTS = []
    with FilmServer() as server:
        server.serve_file("/f.mp4", small_video)
        response = add(api_client, server.url("/f.mp4"))
        assert server.requests == []
    assert response.status_code == 400 and response.json()["code"] == "url_refused"
    assert_matches_schema(response, "post", "/api/movies/")
    assert "private" in response.json()["errors"]["url"][0]
    assert not Movie.objects.exists() and not Run.objects.exists()


@pytest.mark.parametrize("url", ["ftp://example.com/f.mp4", "file:///etc/passwd", "not a url"])
def test_other_addresses_are_400(api_client, url):
    response = add(api_client, url)
    assert response.status_code == 400 and response.json()["detail"]
    assert not Movie.objects.exists()


def refused(api_client, server, path: str, media_root, *, attempts: int = 1) -> Movie:
    """Add the URL and run its download until it ends: a refusal at once, a broken transfer after its retries."""
    movie_id = add(api_client, server.url(path)).json()["id"]
    assert [run_queued("url_download") for _ in range(attempts)] == [["retrying"]] * (attempts - 1) + [["failed"]]
    movie = Movie.objects.get(pk=movie_id)
    assert movie.status == "failed" and not movie.file and not movie.sha256
    assert files_under(media_root) == []
    response = api_client.get(f"/api/movies/{movie_id}/")
    assert_matches_schema(response, "get", f"/api/movies/{movie_id}/")
    assert response.json()["error"] == movie.error and response.json()["duration_s"] is None
    return movie


def test_a_redirect_to_a_private_address_is_refused(api_client, server, media_root):
    server.routes["/go"] = (302, {"Location": "http://169.254.169.254/latest/meta-data/"}, b"")
    assert "169.254.169.254" in refused(api_client, server, "/go", media_root).error


def test_a_too_large_content_length_is_refused_like_an_upload(api_client, server, media_root, settings):
    settings.KISSWEB_MAX_UPLOAD_BYTES = 10_000
    server.routes["/big.mp4"] = (200, {"Content-Type": "video/mp4", "Content-Length": "50000"}, b"\0" * 50_000)
    assert "larger than this server accepts" in refused(api_client, server, "/big.mp4", media_root).error


def test_a_body_longer_than_the_limit_without_a_length_is_stopped(api_client, server, media_root, settings):
    settings.KISSWEB_MAX_UPLOAD_BYTES = 100_000
    server.routes["/endless.mp4"] = (200, {"Content-Type": "video/mp4", "Transfer-Encoding": "chunked"},
                                     chunked(2_000_000))
    assert "larger than this server accepts" in refused(api_client, server, "/endless.mp4", media_root).error


def test_a_body_that_lies_about_its_length_is_refused(api_client, server, media_root, small_video):
    content = small_video.read_bytes()

    def short(out):
        out.write(content[:1000])

    server.routes["/short.mp4"] = (200, {"Content-Type": "video/mp4", "Content-Length": str(len(content))}, short)
    server.routes["/long.mp4"] = (200, {"Content-Type": "video/mp4", "Content-Length": "1000"}, content)
    # A transfer that breaks off may work next time: tried three times, then failed with the reason.
    assert "1000 of the" in refused(api_client, server, "/short.mp4", media_root, attempts=3).error
    assert "not a video" in refused(api_client, server, "/long.mp4", media_root).error


def test_an_html_page_is_not_a_video(api_client, server, media_root):
    server.routes["/watch"] = (200, {"Content-Type": "text/html"}, b"<!doctype html><title>Film</title>")
    movie = refused(api_client, server, "/watch", media_root)
    assert "is not a video this server can use" in movie.error and "web page" in movie.error


def test_anonymous_cannot_add(anon_client, server):
    response = add(anon_client, server.url("/films/Brief_Encounter.mp4"))
    assert response.status_code in (401, 403) and not Movie.objects.exists()


def test_the_movie_shows_the_download_progress(api_client, server, monkeypatch):
    from kissweb.library.runners import UrlDownloadRunner

    server.routes["/big.mp4"] = (200, {"Content-Type": "video/mp4"}, b"\0" * (3 * 2**20))
    movie_id = add(api_client, server.url("/big.mp4")).json()["id"]
    real_report, seen = UrlDownloadRunner.report, []

    def report(self, *, progress, stage=None, eta_s=None, force=False):
        real_report(self, progress=progress, stage=stage, eta_s=eta_s, force=True)
        movie = api_client.get(f"/api/movies/{movie_id}/").json()
        seen.append((stage, movie["status"], round(movie["progress"], 2)))

    monkeypatch.setattr(UrlDownloadRunner, "report", report)
    run_queued("url_download")
    assert ("downloading 33 %", "downloading", round(0.95 / 3, 2)) in seen
    assert ("downloading 66 %", "downloading", round(0.95 * 2 / 3, 2)) in seen
    assert Movie.objects.get(pk=movie_id).status == "failed"  # zeros are no video
