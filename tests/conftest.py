"""Fixtures shared by the whole suite: users, API clients, generated media."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.mediagen import SHARED_MEDIA, make_video


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user(username="alice", password="alice-pass-123")


@pytest.fixture
def other_user(django_user_model):
    return django_user_model.objects.create_user(username="bob", password="bob-pass-123")


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user(username="carol", password="carol-pass-123", is_staff=True)


def _client_for(user):
    from rest_framework.test import APIClient

    client = APIClient()
    if user is not None:
        client.force_authenticate(user=user)
    return client


@pytest.fixture
def anon_client():
    return _client_for(None)


@pytest.fixture
def api_client(user):
    return _client_for(user)


@pytest.fixture
def other_client(other_user):
    return _client_for(other_user)


@pytest.fixture
def staff_client(staff_user):
    return _client_for(staff_user)


@pytest.fixture(scope="session")
def small_video(tmp_path_factory) -> Path:
    """A 4-second 320x240 H.264 + AAC clip with a tone."""
    return make_video(tmp_path_factory.mktemp("media") / "small.mp4", duration_s=4.0)


@pytest.fixture(scope="session")
def shared_media() -> Path:
    if not SHARED_MEDIA.is_dir():
        pytest.skip(f"real clips not found at {SHARED_MEDIA}")
    return SHARED_MEDIA


@pytest.fixture(autouse=True)
def _api_answers_as_the_schema_says(request, monkeypatch):
    """Every API response a test gets through the test client must be what the OpenAPI schema documents (status,
    content type, JSON body): the whole API suite checks the schema against real responses (tests/openapi.py).
    A test that must send what no client would send can opt out with @pytest.mark.off_schema."""
    if request.node.get_closest_marker("off_schema") is None:
        from tests.openapi import check_every_api_response

        check_every_api_response(monkeypatch)


REQUIRE_TOOLS = os.environ.get("KISSWEB_REQUIRE_TOOLS") == "1"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI (KISSWEB_REQUIRE_TOOLS=1) a test skipped for want of a tool fails instead: nothing may go unrun.

    Only tests marked `gpu` may skip there, since CI machines have no GPU.
    """
    outcome = yield
    report = outcome.get_result()
    if REQUIRE_TOOLS and report.skipped and not hasattr(report, "wasxfail") and item.get_closest_marker("gpu") is None:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where every tool must be present: {reason}"
