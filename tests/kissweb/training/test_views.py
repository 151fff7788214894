"""The scene-type pages render for a logged-in person; the browser fills them from the API."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_pages_need_a_login(client):
    for url in ("/scene-types/", "/scene-types/kissing/"):
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_list_page_offers_the_new_type_form_to_staff_only(client, user, staff_user):
    client.force_login(user)
    page = client.get("/scene-types/").content.decode()
    assert 'id="scene-type-list"' in page and "scene_types.js" in page and 'id="scene-type-form"' not in page
    client.force_login(staff_user)
    assert 'id="scene-type-form"' in client.get("/scene-types/").content.decode()


def test_the_detail_page_has_train_versions_and_label_next(client, staff_user):
    client.force_login(staff_user)
    page = client.get("/scene-types/kissing/").content.decode()
    for hook in ('data-slug="kissing"', 'id="train-button"', 'id="versions"', 'id="suggestions"',
                 'id="upload-form"'):
        assert hook in page
    assert 'id="import-form"' not in page  # one form for every model file (issue 19 item 22)


def test_an_unknown_scene_type_page_is_404(client, user):
    client.force_login(user)
    assert client.get("/scene-types/no-such-type/").status_code == 404
