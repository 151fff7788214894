""""Get the published kissing model": a queued run that downloads, imports and registers the published model; without
internet it fails with a message saying how to do it by hand. Staff only."""

from __future__ import annotations

import socket

import pytest
from django.core.management import CommandError, call_command

from kissweb.jobs.models import Run
from kissweb.analysis.models import ModelVersion
from kissweb.analysis.model_files import PublishedModelFetchRunner

pytestmark = pytest.mark.django_db

URL = "/api/scene-types/kissing/published-model/"


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_ROOT.mkdir()
    return settings.MEDIA_ROOT


@pytest.fixture
def no_internet(settings):
    """A port nobody listens on: the connection is refused at once, as on a machine without internet."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.KISSWEB_PUBLISHED_MODEL_URL = f"http://127.0.0.1:{port}/uc?export=download&id=FILEID"
    return port


def _execute_queued() -> list[str]:
    return [PublishedModelFetchRunner.execute(run.pk) for run in Run.objects.filter(
        kind=PublishedModelFetchRunner.kind, status="queued").order_by("pk")]


def test_offline_the_run_fails_saying_how_to_download_and_upload_by_hand(staff_client, no_internet, media_root):
    response = staff_client.post(URL)
    assert response.status_code == 202 and response.json()["status"] == "queued"
    assert _execute_queued() == ["failed"]

    run = staff_client.get(URL).json()["run"]
    assert run["status"] == "failed" and run["attempts"] == 1  # no point in trying again without internet
    error = run["error"]
    assert f"Could not reach 127.0.0.1:{no_internet}" in error and "Download model.pkl by hand" in error
    assert "Upload a model file" in error and "./kiss manage activate_model model.pkl" in error
    assert str(media_root) not in error  # no server paths in what people read
    assert not ModelVersion.objects.exists()


def test_the_command_says_the_same_offline(no_internet, media_root, kissing):
    with pytest.raises(CommandError, match="Download model.pkl by hand"):
        call_command("fetch_published_model")
    assert not ModelVersion.objects.exists()


def test_a_second_press_while_it_runs_follows_the_same_run(staff_client, no_internet):
    first = staff_client.post(URL).json()
    second = staff_client.post(URL).json()
    assert first["id"] == second["id"] and Run.objects.filter(kind=PublishedModelFetchRunner.kind).count() == 1


def test_only_the_kissing_scene_type_gets_the_published_model(staff_client):
    from kissweb.library.models import SceneType

    SceneType.objects.create(slug="fight", name="Fight")
    response = staff_client.post("/api/scene-types/fight/published-model/")
    assert response.status_code == 400 and "detects kissing" in response.json()["detail"]


def test_getting_the_published_model_is_for_staff_only(api_client, other_client, anon_client, staff_client,
                                                      no_internet):
    for client in (api_client, other_client):
        assert client.post(URL).status_code == 403
        assert client.get(URL).status_code == 403
    assert anon_client.post(URL).status_code in (401, 403)
    assert anon_client.get(URL).status_code in (401, 403)
    assert not Run.objects.exists()
    assert staff_client.get(URL).json() == {"run": None}


@pytest.mark.slow
def test_the_run_downloads_imports_and_registers_the_published_model_with_its_card(
    staff_client, settings, media_root, tmp_path
):
    import hashlib
    import threading

    from tests.detector.test_fetch import FakeDrive
    from tests.published_model import write_published_pickle

    _, pickle_path = write_published_pickle(tmp_path / "model.pkl", seed=2)
    content = pickle_path.read_bytes()
    server = FakeDrive(content, cut_after=len(content) // 2)  # the connection breaks off once: resumed
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.KISSWEB_PUBLISHED_MODEL_URL = server.url
    try:
        assert staff_client.post(URL).status_code == 202
        assert _execute_queued() == ["succeeded"]
        run = staff_client.get(URL).json()["run"]
        assert run["status"] == "succeeded" and run["progress"] == 1.0
        version = ModelVersion.objects.get()
        card = version.card
        assert (version.name, version.backbone_set, card["channel_order"]) == (
            "Published model (Ziai 2019)", "published", "BGR")
        assert card["backbones"]["fine_tuned"] is True and version.backbone_digest == card["backbones"]["sha256"]
        assert card["training"]["download"]["sha256"] == hashlib.sha256(content).hexdigest()
        assert card["training"]["download"]["url"] == server.url and not version.is_active
        assert list((media_root / "downloads" / "published").iterdir()) == []  # nothing left behind

        assert staff_client.post(URL).status_code == 202  # pressed again: the same file is not listed twice
        assert _execute_queued() == ["succeeded"]
        assert list(ModelVersion.objects.all()) == [version]
    finally:
        server.shutdown()
        server.server_close()
