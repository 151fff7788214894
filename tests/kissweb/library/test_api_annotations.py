"""Annotations (training material) and reviews of detected segments."""

from __future__ import annotations

import pytest

from kissweb.analysis.models import ModelVersion
from kissweb.library.models import Annotation
from tests.kissweb.library.conftest import detected_segment, manual_segment

pytestmark = pytest.mark.django_db


@pytest.fixture
def movie(user, make_movie):
    return make_movie(user, duration_s=100.0)


def url(movie):
    return f"/api/movies/{movie.pk}/annotations/"


def test_any_user_annotates_and_lists(other_client, api_client, movie, kissing):
    response = other_client.post(url(movie), {"scene_type": "kissing", "start_s": 10, "end_s": 14.5,
                                              "label": "positive"}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["author"], body["label"], body["start_s"], body["end_s"]) == ("bob", "positive", 10, 14.5)
    assert body["segment"] is None and body["can_edit"] is True
    listed = api_client.get(url(movie), {"scene_type": "kissing"}).json()["results"]
    assert [a["id"] for a in listed] == [body["id"]] and listed[0]["can_edit"] is False
    assert api_client.get(url(movie), {"scene_type": "fight"}).json()["results"] == []


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ({"start_s": 5, "end_s": 5}, "end after it starts"),
        ({"start_s": 90, "end_s": 120}, "past the end"),
        ({"label": "maybe"}, "label"),
        ({"scene_type": "dancing"}, "dancing"),
        ({"start_s": -1}, "start_s"),
    ],
)
def test_bad_annotations_are_400(api_client, movie, kissing, payload, words):
    full = {"scene_type": "kissing", "start_s": 1, "end_s": 2, "label": "negative", **payload}
    response = api_client.post(url(movie), full, format="json")
    assert response.status_code == 400
    assert words in response.json()["detail"]
    assert not Annotation.objects.exists()


def test_annotation_endpoints_need_login_and_a_movie(anon_client, api_client, movie):
    assert anon_client.get(url(movie)).status_code in (401, 403)
    assert anon_client.post(url(movie), {}, format="json").status_code in (401, 403)
    assert api_client.get("/api/movies/999999/annotations/").status_code == 404
    assert api_client.patch("/api/annotations/999999/", {"label": "positive"}, format="json").status_code == 404


def test_only_author_or_staff_change_an_annotation(api_client, other_client, staff_client, anon_client, movie, kissing,
                                                   user):
    annotation = Annotation.objects.create(movie=movie, scene_type=kissing, start_s=1, end_s=5, label="positive",
                                           author=user)
    detail = f"/api/annotations/{annotation.pk}/"
    assert anon_client.patch(detail, {"label": "negative"}, format="json").status_code in (401, 403)
    assert other_client.patch(detail, {"label": "negative"}, format="json").status_code == 403
    assert other_client.delete(detail).status_code == 403
    response = api_client.patch(detail, {"label": "negative", "end_s": 6}, format="json")
    assert response.status_code == 200 and (response.json()["label"], response.json()["end_s"]) == ("negative", 6)
    assert api_client.patch(detail, {"end_s": 0.5}, format="json").status_code == 400
    assert staff_client.patch(detail, {"start_s": 2}, format="json").status_code == 200
    assert staff_client.delete(detail).status_code == 204
    assert not Annotation.objects.exists()


def test_review_confirms_or_rejects_a_detected_segment(api_client, other_client, movie, kissing):
    model = ModelVersion.objects.create(scene_type=kissing, name="v1", backbone_set="offline", is_active=True)
    segment = detected_segment(movie, kissing, 30, 42, model_version=model)
    review = f"/api/segments/{segment.pk}/review/"
    response = other_client.post(review, {"verdict": "confirm"}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["label"], body["start_s"], body["end_s"], body["segment"], body["model_version"], body["author"]) == (
        "positive", 30, 42, segment.pk, model.pk, "bob")
    again = other_client.post(review, {"verdict": "reject"}, format="json")
    assert again.status_code == 201 and again.json()["label"] == "negative"
    assert Annotation.objects.filter(segment=segment).count() == 1  # the second review replaced the first
    api_client.post(review, {"verdict": "confirm"}, format="json")
    assert sorted(Annotation.objects.filter(segment=segment).values_list("label", flat=True)) == ["negative", "positive"]


def test_review_errors(api_client, anon_client, movie, kissing):
    manual = manual_segment(movie, kissing, 1, 2)
    detected = detected_segment(movie, kissing, 10, 20)
    assert anon_client.post(f"/api/segments/{detected.pk}/review/", {"verdict": "confirm"},
                            format="json").status_code in (401, 403)
    bad = api_client.post(f"/api/segments/{detected.pk}/review/", {"verdict": "meh"}, format="json")
    assert bad.status_code == 400 and "verdict" in bad.json()["detail"]
    response = api_client.post(f"/api/segments/{manual.pk}/review/", {"verdict": "confirm"}, format="json")
    assert response.status_code == 400 and "detected" in response.json()["detail"]
    assert api_client.post("/api/segments/999999/review/", {"verdict": "confirm"}, format="json").status_code == 404
    assert not Annotation.objects.exists()


# --- issue 19 item 15: a cap per movie and pages ------------------------------------------------------------


def test_a_movie_holds_at_most_the_cap_of_labelled_spans(api_client, other_client, movie, kissing, settings):
    settings.KISSWEB_MAX_ANNOTATIONS_PER_MOVIE = 3
    for start in range(3):
        body = {"scene_type": "kissing", "start_s": start * 10, "end_s": start * 10 + 5, "label": "positive"}
        assert api_client.post(url(movie), body, format="json").status_code == 201
    refused = other_client.post(url(movie), {"scene_type": "kissing", "start_s": 50, "end_s": 55,
                                             "label": "negative"}, format="json")
    assert refused.status_code == 409
    assert refused.json()["code"] == "too_many_annotations"
    assert "KISSWEB_MAX_ANNOTATIONS_PER_MOVIE" in refused.json()["detail"]
    assert Annotation.objects.filter(movie=movie).count() == 3


def test_a_review_counts_against_the_cap(api_client, movie, kissing, settings):
    settings.KISSWEB_MAX_ANNOTATIONS_PER_MOVIE = 1
    segment = detected_segment(movie, kissing, 10, 20)
    assert api_client.post(f"/api/segments/{segment.pk}/review/", {"verdict": "confirm"}, format="json").status_code == 201
    # the same person changing their verdict replaces their review: still one
    assert api_client.post(f"/api/segments/{segment.pk}/review/", {"verdict": "reject"}, format="json").status_code == 201
    other = detected_segment(movie, kissing, 30, 40)
    assert api_client.post(f"/api/segments/{other.pk}/review/", {"verdict": "confirm"}, format="json").status_code == 409


def test_the_list_comes_in_pages_in_time_order(api_client, movie, kissing, user):
    Annotation.objects.bulk_create([
        Annotation(movie=movie, scene_type=kissing, start_s=i * 0.1, end_s=i * 0.1 + 0.05, label="positive", author=user)
        for i in range(700)
    ])
    first = api_client.get(url(movie)).json()
    assert first["count"] == 700 and len(first["results"]) == 500 and first["previous"] is None
    second = api_client.get(first["next"]).json()
    assert len(second["results"]) == 200 and second["next"] is None
    starts = [a["start_s"] for a in first["results"] + second["results"]]
    assert starts == sorted(starts) and len(set(a["id"] for a in first["results"] + second["results"])) == 700
    small = api_client.get(url(movie), {"page_size": 50, "page": 3}).json()
    assert [a["start_s"] for a in small["results"]] == starts[100:150]
    assert api_client.get(url(movie), {"page": 0}).status_code == 400
