"""A training queued through the API is run by a real django-q2 worker (another process)."""

from __future__ import annotations

import pytest

from tests.qcluster import qcluster, wait_for  # noqa: F401 - fixture

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_worker_trains_what_the_api_queued(qcluster, labelled_library, staff_client):  # noqa: F811
    from kissweb.training.models import TrainingRun

    qcluster(timeout_s=120, retry_s=150)
    response = staff_client.post("/api/scene-types/kissing/train/")
    assert response.status_code == 202, response.json()
    url = response.json()["url"]

    def finished():
        body = staff_client.get(url).json()
        return body if body["status"] in ("succeeded", "failed") else None

    body = wait_for(finished, timeout_s=120, what="the training run to finish")
    assert body["status"] == "succeeded", body["error"]
    assert body["progress"] == 1.0 and body["heartbeat_at"] and body["metrics"]["f1"] >= 0.95
    run = TrainingRun.objects.get(pk=body["id"])
    assert run.model_version.status == "ready" and run.model_version.weights
