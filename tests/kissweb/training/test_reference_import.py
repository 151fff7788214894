"""Importing the published model.pkl from the browser: converted safely, listed with the other versions."""

from __future__ import annotations

import io
import os
import pickle

import pytest
import torch
from torch import nn

from kissweb.library.models import ModelVersion

pytestmark = pytest.mark.django_db


class VGGish(nn.Module):
    def __init__(self):
        super().__init__()
        self.embeddings = nn.Sequential(nn.Linear(8, 128), nn.ReLU(inplace=True))


class KissingDetector(nn.Module):
    """The published class layout, with a tiny image part: the import reads `combined` = Linear(640, 2)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(3, 4, 3))
        self.vggish = VGGish()
        self.combined = nn.Linear(512 + 128, 2)


def upload(content: bytes, name: str = "model.pkl"):
    handle = io.BytesIO(content)
    handle.name = name
    return handle


def published_pickle() -> tuple[KissingDetector, bytes]:
    torch.manual_seed(0)
    module = KissingDetector()
    buffer = io.BytesIO()
    torch.save(module, buffer)
    return module, buffer.getvalue()


class RunsCommand:
    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/kissweb-training-pwned",))


def test_staff_import_the_published_model_as_a_paper_bgr_version(staff_client):
    module, content = published_pickle()
    response = staff_client.post("/api/scene-types/kissing/import-reference/", {"file": upload(content)},
                                 format="multipart")
    assert response.status_code == 201, response.json()
    version = ModelVersion.objects.get(pk=response.json()["id"])
    assert version.backbone_set == "paper" and version.card["channel_order"] == "BGR" and not version.is_active
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
