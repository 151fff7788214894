"""Importing the published model.pkl from the browser: converted safely, listed with the other versions."""

from __future__ import annotations

import functools
import io
import os
import pickle

import pytest
import torch

from kissweb.analysis.models import ModelVersion
from tests.published_model import KissingDetector, build_published_module

pytestmark = pytest.mark.django_db


def upload(content: bytes, name: str = "model.pkl"):
    handle = io.BytesIO(content)
    handle.name = name
    return handle


@functools.lru_cache(maxsize=1)
def published_pickle() -> tuple[KissingDetector, bytes]:
    """A published-layout model.pkl (random weights) as bytes, and its module."""
    module = build_published_module(seed=0)
    buffer = io.BytesIO()
    torch.save(module, buffer)
    return module, buffer.getvalue()


class RunsCommand:
    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/kissweb-training-pwned",))


def test_staff_import_the_published_model_as_a_published_bgr_version(staff_client):
    module, content = published_pickle()
    response = staff_client.post("/api/scene-types/kissing/import-reference/", {"file": upload(content)},
                                 format="multipart")
    assert response.status_code == 201, response.json()
    version = ModelVersion.objects.get(pk=response.json()["id"])
    assert version.backbone_set == "published" and version.card["channel_order"] == "BGR" and not version.is_active
    assert version.backbone_digest == version.card["backbones"]["sha256"]
    assert version.status == "ready" and version.name == "Published model (Ziai 2019)"
    import detector

    loaded = detector.load_model(version.weights.path)
    assert loaded.weight.tolist() == module.combined.weight.detach().numpy().tolist()
    stats = staff_client.get("/api/scene-types/kissing/stats/").json()
    assert [v["id"] for v in stats["versions"]] == [version.pk]
    assert stats["versions"][0]["origin"].startswith("reference model.pkl")


def test_a_pickle_that_runs_code_is_refused_and_nothing_is_stored(staff_client, tmp_path):
    content = pickle.dumps(RunsCommand())
    response = staff_client.post("/api/scene-types/kissing/import-reference/", {"file": upload(content)},
                                 format="multipart")
    assert response.status_code == 400
    assert "refused" in response.json()["detail"]
    assert not os.path.exists("/tmp/kissweb-training-pwned")
    assert not ModelVersion.objects.exists()


def test_not_a_pickle_is_refused_with_a_sentence(staff_client):
    response = staff_client.post("/api/scene-types/kissing/import-reference/", {"file": upload(b"hello")},
                                 format="multipart")
    assert response.status_code == 400 and "not the published model.pkl" in response.json()["detail"]


def test_import_is_for_staff_only(api_client, anon_client):
    _, content = published_pickle()
    assert api_client.post("/api/scene-types/kissing/import-reference/", {"file": upload(content)},
                           format="multipart").status_code == 403
    assert anon_client.post("/api/scene-types/kissing/import-reference/", {"file": upload(content)},
                            format="multipart").status_code in (401, 403)
    assert api_client.post("/api/scene-types/nope/import-reference/", {}, format="multipart").status_code == 403
