"""Real responses match the published OpenAPI schema: success bodies, the paginated lists, and the documented
errors (400, 404, 409, 413, 415, 422, 429). The permission matrix checks every endpoint's answers to anonymous,
another user, the owner and staff against the schema too (tests/kissweb/test_permission_matrix.py)."""

from __future__ import annotations

import json

import pytest

from tests.kissweb.library.conftest import detected_segment, manual_segment
from tests.openapi import assert_matches_schema, operation_for

pytestmark = pytest.mark.django_db


def check(client, method, url, data=None, **kwargs):
    response = getattr(client, method)(url, data, **kwargs) if data is not None else getattr(client, method)(url)
    assert_matches_schema(response, method, url)
    return response


def test_the_lists_are_documented_as_pages():
    for path in ("/api/movies/", "/api/segments/"):
        _, operation = operation_for("get", path)
        schema_ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        from tests.openapi import published_schema

        page = published_schema()["components"]["schemas"][schema_ref.rsplit("/", 1)[1]]
        assert page["type"] == "object" and {"count", "next", "previous", "results"} <= set(page["properties"])
        assert page["properties"]["results"]["type"] == "array"


def test_every_operation_documents_its_errors():
    from tests.openapi import published_schema

    for path, operations in published_schema()["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            if "{" in path:
                assert "404" in codes, f"{method} {path}"
            if operation.get("requestBody") or any(p["in"] == "query" for p in operation.get("parameters", [])):
                assert "400" in codes, f"{method} {path}"
            if path not in ("/api/health/", "/api/auth/token/"):
                assert {"401", "403"} <= codes, f"{method} {path}"


def test_lists_with_rows_pages_and_bad_filters(api_client, user, make_movie, kissing):
    movies = [make_movie(user, title=f"Film {n}") for n in range(3)]
    detected_segment(movies[0], kissing, 1, 5)
    manual_segment(movies[1], kissing, 2, 9)
    for url in ("/api/movies/", "/api/movies/?page_size=2", "/api/movies/?page=2&page_size=2", "/api/movies/?page=last",
                "/api/movies/?scene_type=kissing&min_segments=1&ordering=-segment_count", "/api/segments/",
                "/api/segments/?scene_type=kissing&ordering=-confidence&page_size=1",
                f"/api/movies/{movies[0].pk}/", f"/api/movies/{movies[0].pk}/segments/",
                f"/api/movies/{movies[0].pk}/annotations/", "/api/scene-types/", "/api/scene-types/kissing/",
                "/api/me/preferences/", "/api/models/", f"/api/movies/{movies[0].pk}/analyses/"):
        assert check(api_client, "get", url).status_code == 200, url
    for url in ("/api/movies/?scene_type=dancing", "/api/movies/?ordering=nope", "/api/segments/?min_duration=x",
                "/api/movies/?page=99999999999999999999", "/api/movies/?search=a%00"):
        assert check(api_client, "get", url).status_code == 400, url
    for url in ("/api/movies/?page=9", "/api/segments/?page=abc", "/api/movies/987654/", "/api/segments/987654/",
                f"/api/movies/{movies[0].pk}/scores/?scene_type=dancing", f"/api/movies/{movies[0].pk}/scores/"):
        assert check(api_client, "get", url).status_code == 404, url


def test_writes_and_their_errors(api_client, other_client, staff_client, user, make_movie, kissing):
    movie = make_movie(user)
    url = f"/api/movies/{movie.pk}/"
    assert check(api_client, "patch", url, {"title": "New"}, format="json").status_code == 200
    assert check(api_client, "patch", url, {"year": 1200}, format="json").status_code == 400
    assert check(other_client, "patch", url, {"title": "Mine"}, format="json").status_code == 403
    created = check(api_client, "post", f"/api/movies/{movie.pk}/segments/",
                    {"scene_type": "kissing", "start_s": 1, "end_s": 3}, format="json")
    assert created.status_code == 201
    overlap = check(api_client, "post", f"/api/movies/{movie.pk}/segments/",
                    {"scene_type": "kissing", "start_s": 2, "end_s": 4}, format="json")
    assert overlap.status_code == 400 and "start_s" in overlap.json()["errors"]
    assert check(api_client, "post", f"/api/movies/{movie.pk}/annotations/",
                 {"scene_type": "kissing", "start_s": 5, "end_s": 8, "label": "positive"}, format="json").status_code == 201
    payload = {"slug": "fight", "name": "Fight"}
    assert check(staff_client, "post", "/api/scene-types/", payload, format="json").status_code == 201
    assert check(staff_client, "post", "/api/scene-types/", payload, format="json").status_code == 409
    assert check(staff_client, "patch", "/api/scene-types/kissing/", {"min_frames": 99999999999},
                 format="json").status_code == 400
    assert check(api_client, "put", "/api/me/preferences/", {"skip": {"kissing": "ask"}}, format="json").status_code == 200
    assert check(api_client, "delete", f"/api/segments/{created.json()['id']}/").status_code == 204


def test_upload_answers(api_client, small_video, tmp_path):
    def upload(path):
        with path.open("rb") as f:
            return check(api_client, "post", "/api/movies/", {"file": f}, format="multipart")

    assert upload(small_video).status_code == 201
    assert upload(small_video).status_code == 409  # the same bytes again
    junk = tmp_path / "notes.mp4"
    junk.write_bytes(b"not a video" * 100)
    assert upload(junk).status_code == 415
    truncated = tmp_path / "cut.mp4"
    truncated.write_bytes(small_video.read_bytes()[: small_video.stat().st_size // 3])
    assert upload(truncated).status_code in (415, 422)


def test_body_too_large_and_login_lockout(client, staff_client, user):
    big = json.dumps({"name": "x" * (10 * 1024 * 1024 + 1)})
    response = staff_client.generic("POST", "/api/scene-types/", big, content_type="application/json")
    assert_matches_schema(response, "post", "/api/scene-types/")
    assert response.status_code == 413
    for _ in range(6):
        response = client.post("/api/auth/token/", {"username": "alice", "password": "wrong"},
                               content_type="application/json")
        assert_matches_schema(response, "post", "/api/auth/token/")
    assert response.status_code == 429


def test_media_answers(api_client, user, make_movie):
    movie = make_movie(user, content=bytes(range(256)) * 8)
    url = f"/api/movies/{movie.pk}/stream/"
    for headers, status in (({}, 200), ({"HTTP_RANGE": "bytes=0-9"}, 206), ({"HTTP_RANGE": "bytes=99999-"}, 416)):
        response = api_client.get(url, **headers)
        assert response.status_code == status
        assert_matches_schema(response, "get", url)
    thumb = check(api_client, "get", f"/api/movies/{movie.pk}/thumbnail/?t=1")
    assert thumb.status_code == 422  # the stored bytes are no video
    assert check(api_client, "get", f"/api/movies/{movie.pk}/thumbnail/?t=-1").status_code == 400
    assert check(api_client, "get", f"/api/movies/{movie.pk}/chapters.vtt").status_code == 200
