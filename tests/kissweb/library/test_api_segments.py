"""Segments: per movie, manual edits, and the scene search across the library."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kissweb.library.models import Segment, SceneType
from tests.kissweb.library.conftest import detected_segment, manual_segment

pytestmark = pytest.mark.django_db


@pytest.fixture
def movie(user, make_movie):
    return make_movie(user, title="Casablanca", duration_s=100.0)


def test_movie_segments_list_and_filter(other_client, movie, kissing):
    fight = SceneType.objects.create(slug="fight", name="Fight")
    detected_segment(movie, kissing, 30, 40, confidence=0.8)
    manual_segment(movie, kissing, 10, 20)
    manual_segment(movie, fight, 15, 25)
    response = other_client.get(f"/api/movies/{movie.pk}/segments/")
    assert response.status_code == 200
    body = response.json()
    assert [(s["scene_type"], s["start_s"]) for s in body] == [("kissing", 10), ("fight", 15), ("kissing", 30)]
    first = body[0]
    assert first["movie"] == movie.pk and first["movie_title"] == "Casablanca"
    assert first["source"] == "manual" and first["duration_s"] == 10 and first["can_edit"] is False
    assert first["play_url"] == f"/movies/{movie.pk}/?t=10"
    assert first["thumbnail_url"].startswith(f"/api/movies/{movie.pk}/thumbnail/?t=")
    kissing_only = other_client.get(f"/api/movies/{movie.pk}/segments/", {"scene_type": "kissing"}).json()
    assert [s["start_s"] for s in kissing_only] == [10, 30]
    assert other_client.get(f"/api/movies/{movie.pk}/segments/", {"scene_type": "nope"}).status_code == 400
    assert other_client.get("/api/movies/999999/segments/").status_code == 404


def test_add_manual_segment(api_client, movie, kissing):
    response = api_client.post(f"/api/movies/{movie.pk}/segments/",
                               {"scene_type": "kissing", "start_s": 12.5, "end_s": 20}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["source"], body["start_s"], body["end_s"], body["confidence"]) == ("manual", 12.5, 20, 1.0)
    assert Segment.objects.get(pk=body["id"]).created_by.username == "alice"


@pytest.mark.parametrize(
    ("start_s", "end_s", "words"),
    [
        (15, 25, "overlaps"),
        (90, 100.5, "past the end"),
        (30, 30, "end after it starts"),
        (40, 35, "end after it starts"),
    ],
)
def test_database_rules_come_back_as_clear_400s(api_client, movie, kissing, start_s, end_s, words):
    manual_segment(movie, kissing, 10, 20)
    response = api_client.post(f"/api/movies/{movie.pk}/segments/",
                               {"scene_type": "kissing", "start_s": start_s, "end_s": end_s}, format="json")
    assert response.status_code == 400
    assert words in response.json()["detail"]
    assert Segment.objects.count() == 1


def test_touching_segments_are_fine(api_client, movie, kissing):
    manual_segment(movie, kissing, 10, 20)
    response = api_client.post(f"/api/movies/{movie.pk}/segments/",
                               {"scene_type": "kissing", "start_s": 20, "end_s": 30}, format="json")
    assert response.status_code == 201


def test_adding_segments_needs_the_uploader_or_staff(anon_client, other_client, staff_client, movie, kissing):
    payload = {"scene_type": "kissing", "start_s": 1, "end_s": 2}
    url = f"/api/movies/{movie.pk}/segments/"
    assert anon_client.post(url, payload, format="json").status_code in (401, 403)
    assert other_client.post(url, payload, format="json").status_code == 403
    assert staff_client.post(url, payload, format="json").status_code == 201
    assert other_client.post("/api/movies/999999/segments/", payload, format="json").status_code == 404
    bad_type = staff_client.post(url, {**payload, "scene_type": "dancing"}, format="json")
    assert bad_type.status_code == 400 and "dancing" in bad_type.json()["detail"]


def test_patch_and_delete_segment(api_client, other_client, anon_client, movie, kissing):
    segment = manual_segment(movie, kissing, 10, 20)
    url = f"/api/segments/{segment.pk}/"
    assert anon_client.patch(url, {"end_s": 25}, format="json").status_code in (401, 403)
    assert other_client.patch(url, {"end_s": 25}, format="json").status_code == 403
    assert other_client.delete(url).status_code == 403
    response = api_client.patch(url, {"end_s": 25}, format="json")
    assert response.status_code == 200 and response.json()["end_s"] == 25
    assert api_client.patch(url, {"end_s": 500}, format="json").status_code == 400
    segment.refresh_from_db()
    assert segment.end_s == 25
    assert api_client.delete(url).status_code == 204
    assert api_client.delete(url).status_code == 404
    assert api_client.patch("/api/segments/999999/", {"end_s": 1}, format="json").status_code == 404


def test_editing_a_detected_segment_makes_it_manual(api_client, movie, kissing):
    segment = detected_segment(movie, kissing, 30, 40)
    response = api_client.patch(f"/api/segments/{segment.pk}/", {"start_s": 28}, format="json")
    assert response.status_code == 200
    segment.refresh_from_db()
    assert (segment.source, segment.analysis_id, segment.start_s, segment.end_s) == ("manual", None, 28, 40)


def test_scene_search_across_the_library(other_client, user, make_movie, kissing):
    casablanca = make_movie(user, title="Casablanca")
    notorious = make_movie(user, title="Notorious")
    fight = SceneType.objects.create(slug="fight", name="Fight")
    manual_segment(casablanca, kissing, 10, 12)
    detected_segment(casablanca, kissing, 50, 70, confidence=0.7)
    detected_segment(notorious, kissing, 5, 25, confidence=0.95)
    manual_segment(notorious, fight, 5, 25)

    def spans(**params):
        response = other_client.get("/api/segments/", params)
        assert response.status_code == 200, response.json()
        assert response.json()["count"] == len(response.json()["results"])  # exact, however it is counted
        return [(s["movie_title"], s["start_s"]) for s in response.json()["results"]]

    assert spans(scene_type="kissing") == [("Casablanca", 10), ("Casablanca", 50), ("Notorious", 5)]
    assert spans(scene_type="kissing", search="notor") == [("Notorious", 5)]
    assert spans(scene_type="kissing", min_duration=15) == [("Casablanca", 50), ("Notorious", 5)]
    assert spans(scene_type="kissing", ordering="-confidence") == [("Casablanca", 10), ("Notorious", 5),
                                                                  ("Casablanca", 50)]
    assert spans(scene_type="kissing", ordering="-duration")[0] == ("Casablanca", 50)
    assert spans(movie=notorious.pk) == [("Notorious", 5), ("Notorious", 5)]
    assert spans(scene_type="fight") == [("Notorious", 5)]
    assert spans(scene_type="fight", search="casa") == []
    assert spans() == spans(ordering="movie") and len(spans()) == 4
    first = other_client.get("/api/segments/", {"scene_type": "kissing"}).json()["results"][1]
    assert first["play_url"] == f"/movies/{casablanca.pk}/?t=50"
    assert first["scene_type"] == "kissing" and first["confidence"] == 0.7 and first["duration_s"] == 20
    assert other_client.get("/api/segments/", {"scene_type": "nope"}).status_code == 400
    assert other_client.get("/api/segments/", {"ordering": "bogus"}).status_code == 400
    assert other_client.get("/api/segments/", {"min_duration": "abc"}).status_code == 400


def test_scene_search_needs_login(anon_client):
    assert anon_client.get("/api/segments/").status_code in (401, 403)


@pytest.mark.parametrize("page_size", [1, 24])
def test_scene_search_uses_a_fixed_number_of_queries(api_client, user, make_movie, kissing, page_size):
    for i in range(30):
        movie = make_movie(user, title=f"Movie {i}")
        manual_segment(movie, kissing, 0, 5)
    for params, rows in (({"scene_type": "kissing", "search": "movie"}, page_size),
                         ({"min_duration": 1, "page": "last"}, (30 - 1) % page_size + 1), ({}, page_size)):
        with CaptureQueriesContext(connection) as queries:
            response = api_client.get("/api/segments/", {"page_size": page_size, **params})
        assert len(response.json()["results"]) == rows
        assert len(queries) == 1, [q["sql"] for q in queries]  # count and page in one statement


def test_scene_search_pages_and_counts_exactly(api_client, user, make_movie, kissing):
    for i in range(5):
        manual_segment(make_movie(user, title=f"Movie {i}"), kissing, 0, 5)
    body = api_client.get("/api/segments/", {"scene_type": "kissing", "page_size": 2, "page": "last"}).json()
    assert body["count"] == 5 and [s["movie_title"] for s in body["results"]] == ["Movie 4"]
    assert body["next"] is None
    assert body["previous"] == "http://testserver/api/segments/?page=2&page_size=2&scene_type=kissing"
    assert api_client.get("/api/segments/", {"page": 2}).status_code == 404
    empty = api_client.get("/api/segments/", {"scene_type": "kissing", "search": "zzz"}).json()
    assert (empty["count"], empty["results"]) == (0, [])
    unknown = api_client.get("/api/segments/", {"scene_type": "dancing", "page": "x"})
    assert unknown.status_code == 400 and "known scene types: kissing" in unknown.json()["detail"]


def test_scene_search_treats_like_wildcards_literally(api_client, user, make_movie, kissing):
    manual_segment(make_movie(user, title="100% Love"), kissing, 0, 5)
    manual_segment(make_movie(user, title="1000 Loves"), kissing, 0, 5)
    manual_segment(make_movie(user, title="snake_case"), kissing, 0, 5)
    manual_segment(make_movie(user, title="snakeXcase"), kissing, 0, 5)
    for word, titles in (("0% l", ["100% Love"]), ("e_c", ["snake_case"]), ("LOVE", ["1000 Loves", "100% Love"])):
        body = api_client.get("/api/segments/", {"scene_type": "kissing", "search": word}).json()
        assert sorted(r["movie_title"] for r in body["results"]) == sorted(titles)
        assert body["count"] == len(titles)
