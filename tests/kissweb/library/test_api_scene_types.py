"""Scene types: list with the active model, add and retune (staff only)."""

from __future__ import annotations

import pytest

from detector.aggregate import DEFAULT_PRESET, PRESETS
from kissweb.analysis.models import ModelVersion
from kissweb.library.models import SceneType

pytestmark = pytest.mark.django_db


def test_list_shows_settings_and_active_model(other_client, kissing):
    assert other_client.get("/api/scene-types/").json()[0]["active_model"] is None
    ModelVersion.objects.create(scene_type=kissing, name="old", backbone_set="offline")
    active = ModelVersion.objects.create(scene_type=kissing, name="v2", backbone_set="offline", is_active=True)
    body = other_client.get("/api/scene-types/").json()
    kiss = next(st for st in body if st["slug"] == "kissing")
    assert kiss["name"] == "Kissing"
    assert {key: kiss[key] for key in ("cut", "min_frames", "threshold")} == PRESETS[DEFAULT_PRESET].settings()
    assert kiss["active_model"]["id"] == active.pk and kiss["active_model"]["name"] == "v2"
    assert kiss["active_model"]["backbone_set"] == "offline"
    detail = other_client.get("/api/scene-types/kissing/")
    assert detail.status_code == 200 and detail.json()["active_model"]["id"] == active.pk
    assert other_client.get("/api/scene-types/nope/").status_code == 404


def test_anonymous_gets_nothing(anon_client):
    assert anon_client.get("/api/scene-types/").status_code in (401, 403)
    assert anon_client.post("/api/scene-types/", {"slug": "x", "name": "X"}, format="json").status_code in (401, 403)


def test_staff_adds_a_scene_type(staff_client, api_client):
    payload = {"slug": "fight", "name": "Fight", "description": "Fists and such."}
    assert api_client.post("/api/scene-types/", payload, format="json").status_code == 403
    response = staff_client.post("/api/scene-types/", payload, format="json")
    assert response.status_code == 201
    assert response.json()["slug"] == "fight" and response.json()["active_model"] is None
    duplicate = staff_client.post("/api/scene-types/", payload, format="json")
    assert duplicate.status_code == 409 and "already exists" in duplicate.json()["detail"]
    assert staff_client.post("/api/scene-types/", {"slug": "no spaces", "name": "x"}, format="json").status_code == 400
    assert SceneType.objects.filter(slug="fight").count() == 1


def test_staff_retunes_and_segments_are_rederived(staff_client, api_client, kissing):
    from kissweb.jobs.models import Run

    def rederivations():
        return list(Run.objects.filter(kind="rederive", subject_id=kissing.pk).values_list("status", flat=True))

    assert api_client.patch("/api/scene-types/kissing/", {"cut": 0.6}, format="json").status_code == 403
    response = staff_client.patch("/api/scene-types/kissing/", {"cut": 0.6, "min_frames": 5}, format="json")
    assert response.status_code == 200
    assert (response.json()["cut"], response.json()["min_frames"]) == (0.6, 5)
    assert rederivations() == ["queued"]  # queued, not done inside the request
    staff_client.patch("/api/scene-types/kissing/", {"name": "Kisses"}, format="json")
    staff_client.patch("/api/scene-types/kissing/", {"threshold": 0.8}, format="json")
    assert rederivations() == ["queued"]  # a new name changes no segment; the queued run reads the newest settings
    bad = staff_client.patch("/api/scene-types/kissing/", {"threshold": 1.5}, format="json")
    assert bad.status_code == 400 and "threshold" in bad.json()["detail"]
    assert staff_client.patch("/api/scene-types/nope/", {"name": "x"}, format="json").status_code == 404
    kissing.refresh_from_db()
    assert (kissing.name, kissing.cut, kissing.threshold) == ("Kisses", 0.6, 0.8)


def test_database_rule_on_settings_is_a_400(staff_user, kissing):
    from kissweb import errors
    from kissweb.library.services import scene_type_update

    with pytest.raises(errors.Invalid, match="cut"):
        scene_type_update(scene_type=kissing, user=staff_user, cut=1.0)  # past the serializer: Postgres says no
    kissing.refresh_from_db()
    assert kissing.cut == 0.5


def test_scene_defaults_come_from_the_detector(other_client, anon_client):
    body = other_client.get("/api/scene-defaults/").json()
    default = PRESETS[DEFAULT_PRESET]
    assert (body["preset"], body["cut"], body["min_frames"], body["threshold"]) == (
        DEFAULT_PRESET, default.cut, default.min_frames, default.threshold,
    )
    assert [p["name"] for p in body["presets"]] == list(PRESETS) and "paper" in PRESETS
    paper = next(p for p in body["presets"] if p["name"] == "paper")
    assert (paper["cut"], paper["min_frames"], paper["threshold"]) == (0.5, 10, 0.7)  # the paper's Algorithm 1
    assert anon_client.get("/api/scene-defaults/").status_code in (401, 403)


def test_a_new_scene_type_starts_with_the_detectors_defaults(staff_client):
    from detector.aggregate import DEFAULT_CUT, DEFAULT_MIN_FRAMES, DEFAULT_THRESHOLD

    created = staff_client.post("/api/scene-types/", {"slug": "hug", "name": "Hug"}, format="json").json()
    assert (created["cut"], created["min_frames"], created["threshold"]) == (
        DEFAULT_CUT, DEFAULT_MIN_FRAMES, DEFAULT_THRESHOLD,
    )
