"""GET|PUT /api/me/preferences/: each person's skip mode per scene type."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from kissweb.library.models import SceneType
from kissweb.web.models import SkipPreference

pytestmark = pytest.mark.django_db
URL = "/api/me/preferences/"


@pytest.fixture
def fight(db) -> SceneType:
    return SceneType.objects.create(slug="fight", name="Fight")


def test_defaults_to_show_for_every_scene_type(api_client, fight):
    response = api_client.get(URL)
    assert response.status_code == 200
    assert response.json() == {"skip": {"fight": "show", "kissing": "show"}}


def test_put_saves_only_the_named_scene_types(api_client, fight):
    response = api_client.put(URL, {"skip": {"kissing": "skip"}}, format="json")
    assert response.status_code == 200
    assert response.json() == {"skip": {"fight": "show", "kissing": "skip"}}
    api_client.put(URL, {"skip": {"fight": "ask"}}, format="json")
    assert api_client.get(URL).json() == {"skip": {"fight": "ask", "kissing": "skip"}}
    api_client.put(URL, {"skip": {"kissing": "show"}}, format="json")
    assert api_client.get(URL).json()["skip"]["kissing"] == "show"
    assert SkipPreference.objects.count() == 2


def test_anonymous_is_refused(anon_client):
    assert anon_client.get(URL).status_code in (401, 403)
    assert anon_client.put(URL, {"skip": {"kissing": "skip"}}, format="json").status_code in (401, 403)
    assert SkipPreference.objects.count() == 0


def test_one_persons_choice_does_not_touch_another(api_client, other_client, user, other_user):
    api_client.put(URL, {"skip": {"kissing": "skip"}}, format="json")
    assert other_client.get(URL).json()["skip"]["kissing"] == "show"
    other_client.put(URL, {"skip": {"kissing": "ask"}}, format="json")
    assert api_client.get(URL).json()["skip"]["kissing"] == "skip"
    assert SkipPreference.objects.get(user=user).mode == "skip"
    assert SkipPreference.objects.get(user=other_user).mode == "ask"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"skip": {"kissing": "hide"}}, '"hide" is not a skip mode'),
        ({"skip": {"nope": "skip"}}, "no scene type 'nope'"),
        ({"skip": "skip"}, "skip"),
        ({}, "skip"),
    ],
)
def test_bad_input_says_what_is_wrong_and_changes_nothing(api_client, body, words):
    api_client.put(URL, {"skip": {"kissing": "ask"}}, format="json")
    response = api_client.put(URL, {**body} if body else {}, format="json")
    assert response.status_code == 400
    assert words in response.json()["detail"]
    assert api_client.get(URL).json()["skip"]["kissing"] == "ask"


def test_mixed_good_and_bad_changes_nothing(api_client, fight):
    response = api_client.put(URL, {"skip": {"fight": "skip", "kissing": "never"}}, format="json")
    assert response.status_code == 400
    assert api_client.get(URL).json()["skip"] == {"fight": "show", "kissing": "show"}


def test_database_rules(user):
    kissing = SceneType.objects.get(slug="kissing")
    SkipPreference.objects.create(user=user, scene_type=kissing, mode="ask")
    with pytest.raises(IntegrityError), transaction.atomic():
        SkipPreference.objects.create(user=user, scene_type=kissing, mode="skip")
    with pytest.raises(IntegrityError), transaction.atomic():
        SkipPreference.objects.filter(user=user).update(mode="never")


def test_described_in_the_openapi_schema(api_client):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operations = schema["paths"]["/api/me/preferences/"]
    assert {"get", "put"} <= set(operations)
    assert "requestBody" in operations["put"]
