"""Every library endpoint: anonymous requests are refused, missing ids are JSON 404s."""

from __future__ import annotations

import pytest

from kissweb.library.models import Annotation
from tests.kissweb.library.conftest import detected_segment

pytestmark = pytest.mark.django_db

ENDPOINTS = [
    ("get", "/api/movies/"), ("post", "/api/movies/"),
    ("get", "/api/movies/{movie}/"), ("patch", "/api/movies/{movie}/"), ("delete", "/api/movies/{movie}/"),
    ("get", "/api/movies/{movie}/stream/"), ("get", "/api/movies/{movie}/poster/"),
    ("get", "/api/movies/{movie}/thumbnail/?t=1"), ("get", "/api/movies/{movie}/chapters.vtt"),
    ("get", "/api/movies/{movie}/segments/"), ("post", "/api/movies/{movie}/segments/"),
    ("get", "/api/movies/{movie}/annotations/"), ("post", "/api/movies/{movie}/annotations/"),
    ("get", "/api/segments/"), ("get", "/api/segments/{segment}/"), ("patch", "/api/segments/{segment}/"),
    ("delete", "/api/segments/{segment}/"), ("post", "/api/segments/{segment}/review/"),
    ("get", "/api/scene-types/"), ("post", "/api/scene-types/"),
    ("get", "/api/scene-types/kissing/"), ("patch", "/api/scene-types/kissing/"),
    ("get", "/api/annotations/{annotation}/"), ("patch", "/api/annotations/{annotation}/"),
    ("delete", "/api/annotations/{annotation}/"),
]


@pytest.fixture
def ids(user, make_movie, kissing):
    movie = make_movie(user)
    segment = detected_segment(movie, kissing, 1, 2)
    annotation = Annotation.objects.create(movie=movie, scene_type=kissing, start_s=1, end_s=2, label="positive",
                                           author=user)
    return {"movie": movie.pk, "segment": segment.pk, "annotation": annotation.pk}


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_anonymous_is_refused_with_json(anon_client, ids, method, path):
    response = getattr(anon_client, method)(path.format(**ids), HTTP_ACCEPT="application/json")
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"
    assert response.json()["detail"]


def test_a_signed_in_person_who_may_not_gets_403_without_a_challenge(api_client):
    response = api_client.post("/api/scene-types/", {"slug": "fight", "name": "Fight"}, format="json")
    assert response.status_code == 403 and not response.has_header("WWW-Authenticate")


@pytest.mark.parametrize(("method", "path"), [e for e in ENDPOINTS if "{" in e[1]])
def test_missing_ids_are_json_404(staff_client, ids, method, path):
    missing = {key: 987654 for key in ids}
    response = getattr(staff_client, method)(path.format(**missing), {}, format="json")
    assert response.status_code == 404
    assert response.json()["detail"]


@pytest.mark.parametrize(("method", "path"), [
    ("patch", "/api/movies/{movie}/"), ("delete", "/api/movies/{movie}/"), ("post", "/api/movies/{movie}/segments/"),
    ("patch", "/api/segments/{segment}/"), ("delete", "/api/segments/{segment}/"),
    ("patch", "/api/annotations/{annotation}/"), ("delete", "/api/annotations/{annotation}/"),
    ("post", "/api/scene-types/"), ("patch", "/api/scene-types/kissing/"),
])
def test_another_user_cannot_change_what_is_not_theirs(other_client, ids, method, path):
    response = getattr(other_client, method)(path.format(**ids), {}, format="json")
    assert response.status_code == 403
    assert response.json()["detail"]
