"""Values no database column can hold (past int64, null bytes, infinities) are 400s with a sentence, never 500s."""

from __future__ import annotations

import hashlib
import uuid

import pytest

pytestmark = pytest.mark.django_db

HUGE = "99999999999999999999"  # past int64


@pytest.fixture
def movie(user, settings, tmp_path):
    from kissweb.library.models import Movie

    settings.MEDIA_ROOT = tmp_path
    (tmp_path / "movies").mkdir()
    (tmp_path / "movies" / "m.mp4").write_bytes(b"\x00" * 64)
    return Movie.objects.create(
        title="Casablanca", original_filename="c.mp4", file="movies/m.mp4", size_bytes=64,
        sha256=hashlib.sha256(uuid.uuid4().bytes).hexdigest(), duration_s=100.0, width=320, height=240,
        has_audio=True, uploaded_by=user, status="ready",
    )


QUERIES = [
    f"/api/movies/?page={HUGE}", f"/api/segments/?page={HUGE}", f"/api/movies/?page=-{HUGE}",
    f"/api/movies/?page_size={HUGE}", f"/api/movies/?min_segments={HUGE}", f"/api/segments/?movie={HUGE}",
    "/api/segments/?min_duration=1e309", "/api/movies/?scene_type=%00", "/api/segments/?scene_type=%00",
    "/api/movies/?search=%00", "/api/segments/?search=a%00b", "/api/movies/?ordering=%00",
    "/api/movies/{movie}/segments/?scene_type=%00", "/api/movies/{movie}/annotations/?scene_type=%00",
    "/api/movies/{movie}/scores/?scene_type=%00", "/api/models/?scene_type=%00", f"/api/models/?page={HUGE}",
    f"/api/movies/{{movie}}/analyses/?page={HUGE}", "/api/movies/{movie}/thumbnail/?t=1e309",
    "/api/movies/{movie}/thumbnail/?t=nan", f"/api/scene-types/kissing/suggestions/?limit={HUGE}",
    "/api/scene-types/kissing/suggestions/?limit=%00",
]


@pytest.mark.parametrize("query", QUERIES)
def test_query_values_no_column_can_hold_are_400s_or_ignored(api_client, movie, query):
    response = api_client.get(query.format(movie=movie.pk))
    assert response.status_code < 500, (query, response.status_code)
    if response.status_code >= 400:
        assert response.status_code in (400, 404) and response.json()["detail"], response.json()


@pytest.mark.parametrize("query", [f"/api/movies/?page={HUGE}", f"/api/segments/?page={HUGE}",
                                   f"/api/movies/?min_segments={HUGE}", f"/api/segments/?movie={HUGE}",
                                   "/api/movies/?scene_type=%00", "/api/segments/?scene_type=%00"])
def test_the_list_filters_say_which_value_is_wrong(api_client, query):
    response = api_client.get(query)
    assert response.status_code in (400, 404)
    assert response.json()["detail"] and response.json()["code"]


@pytest.mark.parametrize("body", ['{"min_frames": 99999999999}', f'{{"min_frames": {HUGE}}}', '{"name": "a\\u0000b"}',
                                  '{"cut": 1e309}', '{"threshold": NaN}'])
def test_scene_type_settings_beyond_the_columns_are_400s(staff_client, body):
    response = staff_client.generic("PATCH", "/api/scene-types/kissing/", body, content_type="application/json")
    assert response.status_code == 400, response.content
    field = body.split('"')[1]
    assert field in response.json()["errors"] or "JSON" in response.json()["detail"], response.json()


def test_a_null_byte_in_a_preference_key_is_a_400(api_client):
    response = api_client.put("/api/me/preferences/", {"skip": {"kiss\x00ing": "ask"}}, format="json")
    assert response.status_code == 400 and "skip" in response.json()["detail"]


@pytest.mark.parametrize("body", [{"username": "al\x00ice", "password": "x"}, {"username": "alice", "password": "\x00"}])
def test_a_null_byte_in_a_login_is_a_400(client, user, body):
    response = client.post("/api/auth/token/", body, content_type="application/json")
    assert response.status_code == 400


@pytest.mark.parametrize(("method", "path", "body"), [
    ("PATCH", "/api/movies/{movie}/", f'{{"year": {HUGE}}}'),
    ("PATCH", "/api/movies/{movie}/", '{"title": "x\\u0000"}'),
    ("POST", "/api/movies/{movie}/segments/", '{"scene_type": "kissing", "start_s": 1, "end_s": 1e309}'),
    ("POST", "/api/movies/{movie}/annotations/", '{"scene_type": "kissing", "start_s": -1e309, "end_s": 2, '
                                                 '"label": "positive"}'),
    ("POST", "/api/movies/{movie}/annotations/", '{"scene_type": "kiss\\u0000", "start_s": 1, "end_s": 2, '
                                                 '"label": "positive"}'),
])
def test_bodies_beyond_the_columns_are_400s(api_client, movie, method, path, body):
    response = api_client.generic(method, path.format(movie=movie.pk), body, content_type="application/json")
    assert response.status_code == 400, response.content


@pytest.mark.parametrize("path", [f"/api/movies/{HUGE}/", f"/api/segments/{HUGE}/", f"/api/annotations/{HUGE}/",
                                  f"/api/analyses/{HUGE}/", f"/api/models/{HUGE}/", f"/api/training-runs/{HUGE}/",
                                  f"/api/movies/{HUGE}/stream/"])
def test_ids_past_int64_in_the_path_are_404s(api_client, path):
    response = api_client.get(path)
    assert response.status_code == 404 and response.json()["code"] == "not_found"
