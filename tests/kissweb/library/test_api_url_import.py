"""POST /api/movies/ with {"url"}: 202 with the movie `downloading`, then it becomes an upload (hash, probe, poster,
analysis queued). Against a local HTTP server on 127.0.0.1, allowlisted here; refusals leave no file."""

from __future__ import annotations

import hashlib
import time

import pytest

from kissweb.jobs.models import Run
from kissweb.library.models import Movie
from tests.httpserver import FilmServer, chunked, drip
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
    # The stage and the movie's bar say the same, chunk after chunk (bytes are read as they arrive).
    steps = [(int(stage.split()[1]), progress) for stage, status, progress in seen
             if stage.startswith("downloading ") and stage.endswith("%") and status == "downloading"]
    assert len({percent for percent, _ in steps if 0 < percent < 100}) >= 2, seen
    assert all(abs(progress - 0.95 * percent / 100) <= 0.016 for percent, progress in steps), steps
    assert [p for p, _ in steps] == sorted(p for p, _ in steps)
    assert Movie.objects.get(pk=movie_id).status == "failed"  # zeros are no video


# --- the SSRF through yt-dlp's extractors, slow servers, secrets in links (issue 19, items 1, 2, 13) ---------------


def test_a_page_that_yt_dlp_would_read_on_any_host_cannot_redirect_inside_the_network(api_client, server, media_root):
    """yt-dlp's Mediasite extractor takes any host: it read the allowed page and followed its 302 to a refused
    address with its own HTTP client. The trap (127.0.0.2, not allowed) must never be asked anything."""
    with FilmServer(host="127.0.0.2") as trap:
        trap.routes["/admin"] = (200, {"Content-Type": "text/plain"}, b"internal")
        path = "/Mediasite/Play/0123456789abcdef0123456789abcdef"
        server.routes[path] = (302, {"Location": trap.url("/admin")}, b"")
        movie = refused(api_client, server, path, media_root)
        assert trap.requests == []
    assert server.requests == [path]
    assert "private network" in movie.error and "127.0.0.2" in movie.error


def test_what_answered_is_not_in_the_error(api_client, server, media_root):
    """An allowed host whose port is closed: the error says it did not answer, not "Connection refused"."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    movie_id = add(api_client, f"http://127.0.0.1:{port}/f.mp4").json()["id"]
    for _ in range(3):
        run_queued("url_download")
    error = Movie.objects.get(pk=movie_id).error
    assert "did not answer with a file" in error
    assert not any(word in error.lower() for word in ("refused", "errno", "closed", "reset", "timed out")), error


def test_a_dripping_server_is_given_up_at_the_deadline_without_retries(api_client, server, media_root, settings):
    settings.KISSWEB_URL_DEADLINE_S = 2
    server.routes["/drip.mp4"] = (200, {"Content-Type": "video/mp4", "Content-Length": "1000000"}, drip())
    started = time.monotonic()
    movie = refused(api_client, server, "/drip.mp4", media_root)
    assert time.monotonic() - started < 10
    assert "longer than its limit of 2 s" in movie.error and "KISSWEB_URL_DEADLINE_S" in movie.error
    assert Run.objects.get(kind="url_download").attempts == 1


def test_a_server_below_the_minimum_rate_is_given_up(api_client, server, media_root, settings):
    settings.KISSWEB_URL_MIN_RATE_BPS, settings.KISSWEB_URL_TIMEOUT_S = 1000, 1
    server.routes["/drip.mp4"] = (200, {"Content-Type": "video/mp4", "Content-Length": "1000000"}, drip())
    movie = refused(api_client, server, "/drip.mp4", media_root)
    assert "below the minimum" in movie.error


def test_cancel_stops_a_dripping_download_at_its_next_chunk(api_client, server, media_root, monkeypatch):
    from kissweb.library.runners import UrlDownloadRunner

    server.routes["/drip.mp4"] = (200, {"Content-Type": "video/mp4", "Content-Length": "1000000"}, drip(for_s=20))
    movie_id = add(api_client, server.url("/drip.mp4")).json()["id"]
    real_report = UrlDownloadRunner.report

    def report(self, *, progress, stage=None, eta_s=None, force=False):
        if stage and stage.startswith("downloading ") and not self.run.cancel_requested:
            response = api_client.post(f"/api/runs/{self.run.pk}/cancel/")  # what the Cancel button sends
            assert response.status_code == 200, response.content
            self.run.cancel_requested = True
        real_report(self, progress=progress, stage=stage, eta_s=eta_s, force=force)

    monkeypatch.setattr(UrlDownloadRunner, "report", report)
    started = time.monotonic()
    assert run_queued("url_download") == ["cancelled"]
    assert time.monotonic() - started < 8  # the drip lasts 20 s
    movie = Movie.objects.get(pk=movie_id)
    assert movie.status == "failed" and "cancelled" in movie.error and files_under(media_root) == []


def test_secrets_in_a_link_are_not_shown_to_anyone(api_client, other_client, server, media_root):
    server.routes["/watch?access_token=s3cr3t&x=1"] = (200, {"Content-Type": "text/html"}, b"<!doctype html>")
    movie_id = add(api_client, server.url("/watch?access_token=s3cr3t&x=1")).json()["id"]
    assert run_queued("url_download") == ["failed"]
    assert "s3cr3t" not in Movie.objects.get(pk=movie_id).error  # not even stored in the text people read
    for client in (api_client, other_client):
        body = client.get(f"/api/movies/{movie_id}/").json()
        assert "s3cr3t" not in str(body) and f"{server.url('/watch')}?…" in body["error"], body
        listed = client.get("/api/movies/").json()
        assert "s3cr3t" not in str(listed)


def test_a_secret_in_an_error_stored_before_is_hidden_too(other_client, user):
    movie = Movie.objects.create(title="Old", uploaded_by=user, status="failed", source_url="https://x.example/f",
                                 error="'https://bob:pw@x.example/f.mp4?access_token=s3cr3t#t=1' could not be downloaded.")
    body = other_client.get(f"/api/movies/{movie.pk}/").json()
    assert body["error"] == "'https://x.example/f.mp4?…' could not be downloaded."


def test_downloads_wait_on_their_own_queue(api_client, server, django_capture_on_commit_callbacks):
    from django_q.models import OrmQ

    with django_capture_on_commit_callbacks(execute=True):
        movie_id = add(api_client, server.url("/films/Brief_Encounter.mp4")).json()["id"]
    [task] = OrmQ.objects.all()
    assert task.key == "kissweb-downloads" and task.task["name"] == f"url_download-{Run.objects.get().pk}"
    assert Movie.objects.get(pk=movie_id).status == "downloading"
