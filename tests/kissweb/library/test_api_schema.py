"""The OpenAPI schema describes the API."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_schema_lists_the_main_paths(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    paths = schema["paths"]
    for path in [
        "/api/health/", "/api/auth/token/", "/api/movies/", "/api/movies/{movie_id}/",
        "/api/movies/{movie_id}/stream/", "/api/movies/{movie_id}/chapters.vtt",
        "/api/movies/{movie_id}/segments/", "/api/movies/{movie_id}/thumbnail/",
        "/api/movies/{movie_id}/annotations/", "/api/segments/", "/api/segments/{segment_id}/",
        "/api/segments/{segment_id}/review/", "/api/scene-types/", "/api/scene-types/{slug}/",
        "/api/annotations/{annotation_id}/",
    ]:
        assert path in paths, path
    upload = paths["/api/movies/"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert {"201", "409", "413", "415", "422"} <= set(upload["responses"])
    listing = {p["name"] for p in paths["/api/movies/"]["get"]["parameters"]}
    assert {"search", "scene_type", "min_segments", "status", "ordering", "page"} <= listing


def test_docs_page(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200 and b"swagger" in response.content.lower()


def test_token_login(client, user):
    response = client.post("/api/auth/token/", {"username": "alice", "password": "alice-pass-123"},
                           content_type="application/json")
    assert response.status_code == 200
    token = response.json()["token"]
    assert client.get("/api/movies/", HTTP_AUTHORIZATION=f"Token {token}").status_code == 200
    again = client.post("/api/auth/token/", {"username": "alice", "password": "alice-pass-123"},
                        content_type="application/json")
    assert again.json()["token"] == token
    bad = client.post("/api/auth/token/", {"username": "alice", "password": "nope"}, content_type="application/json")
    assert bad.status_code == 400 and bad.json()["detail"] == "Wrong username or password."
    assert client.post("/api/auth/token/", {}, content_type="application/json").status_code == 400


@pytest.mark.parametrize("model", ["library/movie", "library/scenetype", "analysis/modelversion", "analysis/analysis",
                                   "library/segment", "library/annotation", "analysis/movieembedding"])
def test_admin_lists_load(client, django_user_model, model):
    django_user_model.objects.create_superuser(username="root", password="root-pass-123", email="")
    client.login(username="root", password="root-pass-123")
    assert client.get(f"/admin/{model}/").status_code == 200


def test_token_of_an_inactive_user_is_refused(client, user):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=user)
    assert client.get("/api/movies/", HTTP_AUTHORIZATION=f"Token {token.key}").status_code == 200
    user.is_active = False
    user.save()
    response = client.get("/api/movies/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 401 and "inactive" in response.json()["detail"]
