"""Selectors: shapes and sums the API relies on."""

from __future__ import annotations

import pytest

from kissweb import errors
from kissweb.library import selectors
from kissweb.analysis.models import ModelVersion
from kissweb.library.models import SceneType
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


def test_movie_page_rows_count_and_totals(user, make_movie, kissing):
    fight = SceneType.objects.create(slug="fight", name="Fight")
    movies = [make_movie(user, title=f"M{i}") for i in range(5)]
    for movie in movies[:3]:
        manual_segment(movie, kissing, 0, 1)
    manual_segment(movies[0], fight, 2, 4.5)
    first = selectors.movie_page(page=1, page_size=2, ordering="title")
    assert (first.count, first.page, [r["title"] for r in first.rows]) == (5, 1, ["M0", "M1"])
    assert first.rows[0]["uploaded_by_username"] == "alice"
    assert first.rows[0]["scene_types"] == [
        {"slug": "fight", "name": "Fight", "has_model": False, "segment_count": 1, "scene_seconds": 2.5},
        {"slug": "kissing", "name": "Kissing", "has_model": False, "segment_count": 1, "scene_seconds": 1.0},
    ]
    assert [r["title"] for r in selectors.movie_page(page=2, page_size=2, ordering="title").rows] == ["M2", "M3"]
    last = selectors.movie_page(page=None, page_size=2, ordering="title")
    assert (last.page, [r["title"] for r in last.rows]) == (3, ["M4"])
    past = selectors.movie_page(page=4, page_size=2, ordering="title")
    assert (past.count, past.rows) == (5, [])  # past the end: no rows, still the count
    with_scenes = selectors.movie_page(page=1, page_size=10, scene_type="kissing", ordering="title")
    assert with_scenes.count == 3 and [r["segment_count"] for r in with_scenes.rows] == [1, 1, 1]
    assert selectors.movie_page(page=1, page_size=10, scene_type="kissing", min_segments=2).count == 0
    with pytest.raises(errors.Invalid, match="known scene types: fight, kissing"):
        selectors.movie_page(page=1, page_size=10, scene_type="dancing")


def test_segment_page_rows_and_count(user, make_movie, kissing):
    a, b = make_movie(user, title="A river"), make_movie(user, title="B")
    for start in (0, 10, 20):
        manual_segment(a, kissing, start, start + 5)
    manual_segment(b, kissing, 0, 5)
    result = selectors.segment_page(page=1, page_size=2, scene_type="kissing", search="RIVER")
    assert (result.count, [(r["movie_title"], r["start_s"]) for r in result.rows]) == (3, [("A river", 0), ("A river", 10)])
    assert selectors.segment_page(page=None, page_size=2).page == 2
    assert selectors.segment_page(page=1, page_size=2, scene_type="kissing", min_duration=6).count == 0
    with pytest.raises(errors.Invalid, match="no scene type 'dancing'"):
        selectors.segment_page(page=1, page_size=2, scene_type="dancing")
