"""Movies: upload, list, detail, change, delete."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token

from kissweb.analysis.models import Analysis, ModelVersion, MovieEmbedding
from kissweb.library.models import Movie, SceneType
from tests.kissweb.library.conftest import detected_segment, files_under, manual_segment
from tests.mediagen import make_video

pytestmark = pytest.mark.django_db


def upload(client, path: Path, **fields):
    with path.open("rb") as f:
        return client.post("/api/movies/", {"file": f, **fields}, format="multipart")


# --- upload ---------------------------------------------------------------------------------------------


def test_upload_stores_the_movie_under_a_uuid_name_with_a_poster_and_queues_analysis(
    api_client, user, small_video, media_root, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = upload(api_client, small_video, title="My Clip", year=1999)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "queued"
    assert (body["title"], body["year"], body["original_filename"]) == ("My Clip", 1999, "small.mp4")
    assert body["uploaded_by"] == "alice" and body["can_edit"] is True
    assert body["duration_s"] == pytest.approx(4.0, abs=0.2)
    assert (body["width"], body["height"], body["has_audio"]) == (320, 240, True)
    movie = Movie.objects.get(pk=body["id"])
    assert re.fullmatch(r"movies/[0-9a-f]{32}\.mp4", movie.file.name)
    assert Path(movie.file.path).read_bytes() == small_video.read_bytes()
    assert movie.size_bytes == small_video.stat().st_size
    assert Path(movie.poster.path).read_bytes()[:2] == b"\xff\xd8"  # a JPEG
    assert Analysis.objects.filter(movie=movie, run__status="queued").count() == 1
    assert len(callbacks) == 1  # the task is enqueued only when the upload commits
    assert not list((media_root / "incoming").iterdir())
    import hashlib

    assert movie.sha256 == hashlib.sha256(small_video.read_bytes()).hexdigest()


def test_upload_without_title_uses_the_file_name(api_client, small_video):
    response = upload(api_client, small_video)
    assert response.status_code == 201
    assert response.json()["title"] == "small"


def test_identical_upload_is_409_naming_the_existing_movie(api_client, other_client, small_video, media_root):
    first = upload(api_client, small_video, title="First").json()
    before = files_under(media_root)
    response = other_client.post("/api/movies/", {"file": small_video.open("rb")}, format="multipart")
    assert response.status_code == 409
    body = response.json()
    assert body["movie"] == {"id": first["id"], "title": "First", "page_url": f"/movies/{first['id']}/"}
    assert "First" in body["detail"]
    assert Movie.objects.count() == 1
    assert files_under(media_root) == before


def test_not_a_video_is_415_and_leaves_nothing(api_client, tmp_path, media_root):
    text = tmp_path / "notes.mp4"
    text.write_text("these are my notes, not a movie\n" * 100)
    response = upload(api_client, text)
    assert response.status_code == 415
    assert "notes.mp4" in response.json()["detail"]
    assert str(tmp_path) not in response.json()["detail"]
    assert Movie.objects.count() == 0 and Analysis.objects.count() == 0
    assert files_under(media_root) == []


def test_audio_only_file_is_415(api_client, tmp_path, media_root):
    from tests.mediagen import ffmpeg

    audio = tmp_path / "song.m4a"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-c:a", "aac", str(audio))
    response = upload(api_client, audio)
    assert response.status_code == 415
    assert "no video stream" in response.json()["detail"]
    assert files_under(media_root) == []


def test_truncated_video_is_422_and_leaves_nothing(api_client, tmp_path, small_video, media_root):
    truncated = tmp_path / "cut.mp4"
    data = small_video.read_bytes()
    truncated.write_bytes(data[: len(data) // 3])
    response = upload(api_client, truncated)
    assert response.status_code in (415, 422)
    assert response.json()["detail"]
    assert Movie.objects.count() == 0
    assert files_under(media_root) == []


def test_zero_length_file_is_rejected(api_client, tmp_path, media_root):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    response = upload(api_client, empty)
    assert response.status_code == 400
    assert response.json()["detail"]
    assert files_under(media_root) == []


def test_upload_over_the_limit_is_413_while_streaming(api_client, settings, small_video, media_root):
    settings.KISSWEB_MAX_UPLOAD_BYTES = 10_000  # the body is a little larger than the file, so no early refusal
    big = media_root.parent / "big.mp4"
    big.write_bytes(small_video.read_bytes()[:10_500])
    response = upload(api_client, big)
    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]
    assert Movie.objects.count() == 0
    assert files_under(media_root) == []


def test_upload_over_the_limit_is_refused_from_content_length(api_client, settings, small_video, media_root):
    settings.KISSWEB_MAX_UPLOAD_BYTES = 1000
    big = media_root.parent / "big.mp4"
    big.write_bytes(b"x" * (3 * 1024 * 1024))
    response = upload(api_client, big)
    assert response.status_code == 413
    assert files_under(media_root) == []


def test_session_upload_with_csrf_uses_the_streaming_handler(user, settings, small_video, media_root):
    """The CSRF check reads the body before the view runs; the size limit must already apply then."""
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username="alice", password="alice-pass-123")
    client.get("/api/movies/")  # any response; the token comes from the cookie jar below
    from django.middleware.csrf import _get_new_csrf_string

    token = _get_new_csrf_string()
    client.cookies["csrftoken"] = token
    settings.KISSWEB_MAX_UPLOAD_BYTES = 10_000
    big = media_root.parent / "big.mp4"
    big.write_bytes(small_video.read_bytes()[:10_500])
    with big.open("rb") as f:
        response = client.post("/api/movies/", {"file": f}, format="multipart", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 413
    settings.KISSWEB_MAX_UPLOAD_BYTES = 10**9
    with small_video.open("rb") as f:
        response = client.post("/api/movies/", {"file": f}, format="multipart", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 201
    with small_video.open("rb") as f:
        response = client.post("/api/movies/", {"file": f}, format="multipart")
    assert response.status_code == 403  # no CSRF token


def test_upload_needs_a_file_and_a_sane_year(api_client, small_video):
    assert api_client.post("/api/movies/", {"title": "x"}, format="multipart").status_code == 400
    response = upload(api_client, small_video, year=3)
    assert response.status_code == 400
    assert "year" in response.json()["detail"]


def test_anonymous_cannot_upload_or_list(anon_client, small_video):
    assert upload(anon_client, small_video).status_code in (401, 403)
    assert anon_client.get("/api/movies/").status_code in (401, 403)
    assert Movie.objects.count() == 0


def test_bad_token_is_401_with_a_challenge(client):
    response = client.get("/api/movies/", HTTP_AUTHORIZATION="Token not-a-real-token")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json()["detail"]


# --- list -----------------------------------------------------------------------------------------------


def test_list_shows_counts_per_scene_type_and_whether_a_model_exists(api_client, other_client, user, make_movie, kissing):
    fight = SceneType.objects.create(slug="fight", name="Fight")
    ModelVersion.objects.create(scene_type=kissing, name="v1", backbone_set="offline", is_active=True)
    movie = make_movie(user, title="Casablanca")
    manual_segment(movie, kissing, 10, 20)
    detected_segment(movie, kissing, 30, 35)
    response = other_client.get("/api/movies/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1 and body["next"] is None and body["previous"] is None
    item = body["results"][0]
    assert item["uploaded_by"] == "alice" and item["can_edit"] is False
    assert item["stream_url"] == f"/api/movies/{movie.pk}/stream/"
    assert item["chapters_url"] == f"/api/movies/{movie.pk}/chapters.vtt"
    assert item["page_url"] == f"/movies/{movie.pk}/"
    by_slug = {st["slug"]: st for st in item["scene_types"]}
    assert by_slug["kissing"] == {"slug": "kissing", "name": "Kissing", "has_model": True, "segment_count": 2,
                                  "scene_seconds": 15.0}
    assert by_slug[fight.slug]["has_model"] is False and by_slug["fight"]["segment_count"] == 0
    assert api_client.get("/api/movies/").json()["results"][0]["can_edit"] is True


def test_list_filters_and_orderings(api_client, user, make_movie, kissing):
    a = make_movie(user, title="Alpha")
    b = make_movie(user, title="Bravo")
    c = make_movie(user, title="Charlie", status="analyzing", progress=0.5)
    for start in (0, 10, 20):
        manual_segment(b, kissing, start, start + 2)
    manual_segment(a, kissing, 0, 50)

    def ids(**params):
        response = api_client.get("/api/movies/", params)
        assert response.status_code == 200, response.json()
        if "page_size" not in params:  # the count (sometimes taken from the per-movie totals) is exact
            assert response.json()["count"] == len(response.json()["results"])
        return [m["id"] for m in response.json()["results"]]

    assert ids() == [c.pk, b.pk, a.pk]  # newest first
    assert ids(ordering="", search="", status="") == [c.pk, b.pk, a.pk]  # empty form fields mean "no filter"
    assert ids(ordering="title") == [a.pk, b.pk, c.pk]
    assert ids(search="rav") == [b.pk]
    assert ids(status="analyzing") == [c.pk]
    assert ids(scene_type="kissing") == [b.pk, a.pk]
    assert ids(scene_type="kissing", min_segments=3) == [b.pk]
    assert ids(scene_type="kissing", min_segments=0) == [c.pk, b.pk, a.pk]
    assert ids(scene_type="kissing", ordering="-segment_count") == [b.pk, a.pk]
    assert ids(scene_type="kissing", ordering="-scene_seconds") == [a.pk, b.pk]
    assert ids(page_size=2, ordering="title") == [a.pk, b.pk]
    assert ids(page_size=2, page=2, ordering="title") == [c.pk]


def test_list_rejects_unknown_filters_values(api_client):
    response = api_client.get("/api/movies/", {"scene_type": "dancing"})
    assert response.status_code == 400 and "dancing" in response.json()["detail"]
    assert api_client.get("/api/movies/", {"ordering": "size"}).status_code == 400
    assert api_client.get("/api/movies/", {"min_segments": "-1"}).status_code == 400
    assert api_client.get("/api/movies/", {"page": 99}).status_code == 404


@pytest.mark.parametrize("page_size", [1, 24])
def test_list_uses_a_fixed_number_of_queries(client, user, make_movie, kissing, page_size):
    SceneType.objects.create(slug="fight", name="Fight")
    for i in range(30):
        movie = make_movie(user, title=f"Movie {i}")
        manual_segment(movie, kissing, 0, 5)
        manual_segment(movie, kissing, 10, 15)
    token = Token.objects.create(user=user)
    last_page_rows = (30 - 1) % page_size + 1
    for params, rows in (({}, page_size), ({"scene_type": "kissing", "min_segments": 2, "ordering": "-segment_count"},
                                           page_size),
                         ({"scene_type": "kissing", "search": "movie", "page": 2}, min(page_size, 30 - page_size)),
                         ({"page": "last"}, last_page_rows)):
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/api/movies/", {"page_size": page_size, **params},
                                  HTTP_AUTHORIZATION=f"Token {token.key}")
        assert response.status_code == 200 and len(response.json()["results"]) == rows
        # the token's user; then count, page and per-scene-type totals in one statement
        assert len(queries) == 2, [q["sql"] for q in queries]


def test_list_pages_as_drf_did(api_client, user, make_movie, kissing):
    movies = [make_movie(user, title=f"M{i:02d}") for i in range(5)]
    manual_segment(movies[1], kissing, 0, 5)

    def page(**params):
        response = api_client.get("/api/movies/", {"ordering": "title", **params})
        return response.status_code, response.json()

    status, body = page(page_size=2)
    assert status == 200 and body["count"] == 5 and [m["title"] for m in body["results"]] == ["M00", "M01"]
    assert body["previous"] is None and body["next"] == "http://testserver/api/movies/?ordering=title&page=2&page_size=2"
    status, body = page(page_size=2, page=2)
    assert body["previous"] == "http://testserver/api/movies/?ordering=title&page_size=2"
    assert body["next"] == "http://testserver/api/movies/?ordering=title&page=3&page_size=2"
    status, body = page(page_size=2, page="last")
    assert [m["title"] for m in body["results"]] == ["M04"] and body["next"] is None
    assert body["previous"] == "http://testserver/api/movies/?ordering=title&page=2&page_size=2"
    assert page(page_size=2, page=3)[1] == body
    assert page(page=1, page_size=0)[1]["count"] == 5  # a page size that is not a positive number: the default
    assert len(page(page_size="x")[1]["results"]) == 5
    for bad in (4, "x", "2.0"):
        status, body = page(page_size=2, page=bad)
        assert status == 404 and body["detail"] == "Invalid page."
    for bad in (0, -1):  # the schema says pages start at 1 (issue 19 item 16)
        status, body = page(page_size=2, page=bad)
        assert status == 400 and body["detail"] == "Pages are numbered from 1."
    # an empty list still has its count, one page, and page=last is that page
    status, body = page(search="nothing like it", page="last")
    assert (status, body["count"], body["results"], body["next"], body["previous"]) == (200, 0, [], None, None)
    assert page(search="nothing like it", page=2)[0] == 404
    # a bad filter is a 400 whatever the page number says
    assert page(scene_type="dancing", page="x")[0] == 400
    assert page(scene_type="kissing", page="last")[1]["results"][0]["id"] == movies[1].pk


def test_list_page_size_is_capped_at_200(api_client, user, make_movie):
    for i in range(3):
        make_movie(user, title=f"M{i}")
    assert api_client.get("/api/movies/", {"page_size": 100000}).json()["count"] == 3
    from kissweb.library.apis import ListPagination

    class FakeRequest:
        query_params = {"page_size": "100000"}

    assert ListPagination(FakeRequest()).page_size == 200


def test_list_answers_json_whatever_the_client_accepts(api_client, user, make_movie):
    make_movie(user, title="Vertigo")
    response = api_client.get("/api/movies/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert response.json()["results"][0]["title"] == "Vertigo"


# --- detail, change, delete -----------------------------------------------------------------------------


def test_detail_and_404(api_client, other_client, user, make_movie):
    movie = make_movie(user, title="Vertigo", year=1958)
    body = other_client.get(f"/api/movies/{movie.pk}/").json()
    assert (body["title"], body["year"], body["can_edit"]) == ("Vertigo", 1958, False)
    missing = api_client.get("/api/movies/999999/")
    assert missing.status_code == 404 and missing.json()["detail"]


def test_patch_title_and_year_by_uploader_or_staff_only(api_client, other_client, staff_client, anon_client, user,
                                                        make_movie):
    movie = make_movie(user, title="Old")
    assert anon_client.patch(f"/api/movies/{movie.pk}/", {"title": "x"}, format="json").status_code in (401, 403)
    response = other_client.patch(f"/api/movies/{movie.pk}/", {"title": "Hijacked"}, format="json")
    assert response.status_code == 403 and response.json()["detail"]
    response = api_client.patch(f"/api/movies/{movie.pk}/", {"title": "New", "year": 2001}, format="json")
    assert response.status_code == 200
    assert (response.json()["title"], response.json()["year"]) == ("New", 2001)
    assert staff_client.patch(f"/api/movies/{movie.pk}/", {"year": None}, format="json").json()["year"] is None
    assert api_client.patch(f"/api/movies/{movie.pk}/", {"title": "  "}, format="json").status_code == 400
    assert api_client.patch("/api/movies/999999/", {"title": "x"}, format="json").status_code == 404
    movie.refresh_from_db()
    assert (movie.title, movie.year) == ("New", None)


def test_delete_removes_rows_and_every_file_after_commit(
    api_client, other_client, anon_client, user, make_movie, kissing, media_root, django_capture_on_commit_callbacks
):
    movie = make_movie(user)
    movie.poster = "posters/p.jpg"
    movie.save()
    (media_root / "posters").mkdir()
    (media_root / "posters/p.jpg").write_bytes(b"\xff\xd8")
    (media_root / "thumbs" / str(movie.pk)).mkdir(parents=True)
    (media_root / "thumbs" / str(movie.pk) / "10.jpg").write_bytes(b"\xff\xd8")
    (media_root / "embeddings").mkdir()
    (media_root / "embeddings/e.npy").write_bytes(b"npy")
    MovieEmbedding.objects.create(movie=movie, backbone_set="offline", file="embeddings/e.npy", n_windows=1,
                                  image_dim=1, audio_dim=1)
    manual_segment(movie, kissing, 1, 2)
    other = make_movie(user, title="Stays")
    assert anon_client.delete(f"/api/movies/{movie.pk}/").status_code in (401, 403)
    assert other_client.delete(f"/api/movies/{movie.pk}/").status_code == 403
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert api_client.delete(f"/api/movies/{movie.pk}/").status_code == 204
    assert len(files_under(media_root)) == 5  # nothing removed before the commit
    for callback in callbacks:
        callback()
    assert files_under(media_root) == [media_root / other.file.name]
    assert not Movie.objects.filter(pk=movie.pk).exists()
    assert not MovieEmbedding.objects.exists()
    assert api_client.delete(f"/api/movies/{movie.pk}/").status_code == 404


def test_staff_can_delete_anyones_movie(staff_client, user, make_movie):
    movie = make_movie(user)
    assert staff_client.delete(f"/api/movies/{movie.pk}/").status_code == 204


def test_upload_of_a_webm_keeps_its_container_extension(api_client, tmp_path):
    webm = make_video(tmp_path / "clip.webm", duration_s=1.0, vcodec="libvpx", acodec="libopus",
                      audio="sine=frequency=440:sample_rate=48000")
    response = upload(api_client, webm)
    assert response.status_code == 201, response.json()
    assert Movie.objects.get().file.name.endswith(".webm")


def test_unknown_api_path_is_json_404(api_client):
    response = api_client.get("/api/no-such-thing/")
    assert response.status_code == 404
    assert response.json()["detail"]


def test_list_renderer_writes_what_drf_writes():
    import datetime

    from rest_framework.exceptions import ErrorDetail
    from rest_framework.renderers import JSONRenderer

    from kissweb.library.apis import FastJSONRenderer

    data = {
        "text": "".join(chr(i) for i in range(0x80)) + "é漢😀\u2028\u2029", "numbers": [1, 2.5, 0.1, -0.0, 1e16, True, None],
        "at": datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
        "at_us": datetime.datetime(2026, 1, 2, 3, 4, 5, 120, tzinfo=datetime.timezone(datetime.timedelta(hours=2))),
        "day": datetime.date(2026, 1, 2), "errors": {"page": [ErrorDetail("Invalid page.", code="not_found")]},
        "big": 2**70,
    }
    assert FastJSONRenderer().render(data) == JSONRenderer().render(data)
    del data["big"]  # the same without the fallback to DRF's encoder
    assert FastJSONRenderer().render(data) == JSONRenderer().render(data)
    assert FastJSONRenderer().render(None) == b""
