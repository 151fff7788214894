"""Selectors: shapes and sums the API relies on."""

from __future__ import annotations

import pytest

from kissweb.library import selectors
from kissweb.library.models import ModelVersion, SceneType
from tests.kissweb.library.conftest import detected_segment, manual_segment

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "00:00:00.000"), (1.5, "00:00:01.500"), (61.0004, "00:01:01.000"), (3599.9996, "01:00:00.000"),
     (36000 + 62.25, "10:01:02.250")],
)
def test_vtt_timestamp(seconds, text):
    assert selectors.vtt_timestamp(seconds) == text


def test_totals_per_movie_and_scene_type(user, make_movie, kissing):
    fight = SceneType.objects.create(slug="fight", name="Fight")
    ModelVersion.objects.create(scene_type=fight, name="f1", backbone_set="offline", is_active=True)
    a, b = make_movie(user, title="A"), make_movie(user, title="B")
    manual_segment(a, kissing, 0, 1.5)
    detected_segment(a, kissing, 3, 5)
    manual_segment(a, fight, 0, 10)
    scene_types = selectors.scene_types_with_model_flag()
    totals = selectors.movie_scene_type_totals(movie_ids=[a.pk, b.pk], scene_types=scene_types)
    by_slug = {entry["slug"]: entry for entry in totals[a.pk]}
    assert (by_slug["kissing"]["segment_count"], by_slug["kissing"]["scene_seconds"]) == (2, 3.5)
    assert by_slug["kissing"]["has_model"] is False and by_slug["fight"]["has_model"] is True
    assert all(entry["segment_count"] == 0 for entry in totals[b.pk])
    assert selectors.movie_scene_type_totals(movie_ids=[], scene_types=scene_types) == {}


def test_scene_type_list_has_the_active_model(kissing):
    ModelVersion.objects.create(scene_type=kissing, name="off", backbone_set="offline")
    assert selectors.scene_type_list()[0].active_model is None
    active = ModelVersion.objects.create(scene_type=kissing, name="on", backbone_set="paper", is_active=True)
    assert selectors.scene_type_list()[0].active_model.pk == active.pk


def test_health_read():
    assert selectors.health_read()["status"] == "ok"


def test_movie_list_rows_slice_and_count(user, make_movie, kissing):
    movies = [make_movie(user, title=f"M{i}") for i in range(5)]
    for movie in movies[:3]:
        manual_segment(movie, kissing, 0, 1)
    scene_types = selectors.scene_types_with_model_flag()
    rows = selectors.movie_list(scene_types=scene_types, ordering="title")
    assert rows.count() == 5
    assert [r["title"] for r in rows[1:3]] == ["M1", "M2"]
    assert [r["title"] for r in rows[3:]] == ["M3", "M4"]
    assert rows[0:2][0]["uploaded_by_username"] == "alice"
    with_scenes = selectors.movie_list(scene_types=scene_types, scene_type="kissing", ordering="title")
    assert with_scenes.count() == 3 and [r["segment_count"] for r in with_scenes[0:10]] == [1, 1, 1]
    with pytest.raises(TypeError):
        rows[2]
