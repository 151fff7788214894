"""A slug that names no scene type gets the same answer everywhere (kissweb.library.selectors.unknown_scene_type): the
same sentence naming the known ones, the code `unknown_scene_type`, and the parameter it came in when it came in one."""

from __future__ import annotations

import pytest

from kissweb.library.models import Movie, SceneType

pytestmark = pytest.mark.django_db

SENTENCE = "There is no scene type 'nope'; known scene types: kissing."


@pytest.fixture
def movie(user):
    SceneType.objects.get_or_create(slug="kissing", defaults={"name": "Kissing"})
    return Movie.objects.create(
        title="Film", original_filename="f.mp4", file="movies/f.mp4", size_bytes=1, sha256="e" * 64, duration_s=60.0,
        width=320, height=240, has_audio=True, uploaded_by=user,
    )


def test_every_way_in_gives_the_same_answer(api_client, movie):
    answers = {
        "movie list filter": api_client.get("/api/movies/?scene_type=nope"),
        "scene search": api_client.get("/api/segments/?scene_type=nope"),
        "manual segment": api_client.post(f"/api/movies/{movie.pk}/segments/",
                                          {"scene_type": "nope", "start_s": 1, "end_s": 5}, format="json"),
        "export": api_client.post(f"/api/movies/{movie.pk}/exports/",
                                  {"kind": "contact_sheet", "scene_type": "nope"}, format="json"),
        "skip preferences": api_client.put("/api/me/preferences/", {"skip": {"nope": "skip"}}, format="json"),
        "scores": api_client.get(f"/api/movies/{movie.pk}/scores/?scene_type=nope"),
        "scene type": api_client.get("/api/scene-types/nope/"),
    }
    for way, response in answers.items():
        body = response.json()
        assert (body["detail"], body["code"]) == (SENTENCE, "unknown_scene_type"), way
        assert response.status_code == (404 if way in ("scores", "scene type") else 400), way
