"""A missing movie, analysis, model version, scene type, training run, run, scene or label answers with a sentence that names it (the error vocabulary),
never with the generic "Not found" Django's own 404 would give."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

GENERIC = "Not found: no such object, or it was deleted."


@pytest.mark.parametrize(("method", "url", "sentence", "code"), [
    ("post", "/api/movies/999999/analyze/", "There is no movie 999999", "not_found"),
    ("get", "/api/movies/999999/analyses/", "There is no movie 999999", "not_found"),
    ("get", "/api/movies/999999/scores/", "There is no movie 999999", "not_found"),
    ("get", "/api/analyses/999999/", "There is no analysis 999999", "not_found"),
    ("get", "/api/models/999999/", "There is no model version 999999", "not_found"),
    ("get", "/api/models/999999/activation-cost/", "There is no model version 999999", "not_found"),
    ("post", "/api/models/999999/activate/", "There is no model version 999999", "not_found"),
    ("post", "/api/scene-types/no-such-type/models/", "There is no scene type 'no-such-type'", "unknown_scene_type"),
    ("post", "/api/scene-types/no-such-type/train/", "There is no scene type 'no-such-type'", "unknown_scene_type"),
    ("get", "/api/scene-types/no-such-type/stats/", "There is no scene type 'no-such-type'", "unknown_scene_type"),
    ("get", "/api/training-runs/999999/", "There is no training run 999999", "not_found"),
    ("get", "/api/runs/999999/", "There is no run 999999", "not_found"),
    ("post", "/api/runs/999999/cancel/", "There is no run 999999", "not_found"),
    ("get", "/api/segments/999999/", "There is no scene 999999", "not_found"),
    ("post", "/api/segments/999999/review/", "There is no scene 999999", "not_found"),
    ("get", "/api/annotations/999999/", "There is no label 999999", "not_found"),
    ("delete", "/api/annotations/999999/", "There is no label 999999", "not_found"),
])
def test_a_missing_object_is_named(staff_client, method, url, sentence, code):
    response = getattr(staff_client, method)(url)
    assert response.status_code == 404, response.content
    body = response.json()
    assert body["detail"].startswith(sentence) and body["detail"] != GENERIC
    assert body["code"] == code


def test_scores_of_an_unknown_scene_type_name_the_known_ones(staff_client, make_movie, kissing):
    movie = make_movie()
    response = staff_client.get(f"/api/movies/{movie.pk}/scores/?scene_type=nope")
    assert response.status_code == 404
    assert response.json()["detail"] == "There is no scene type 'nope'; known scene types: kissing."
    assert response.json()["code"] == "unknown_scene_type"
