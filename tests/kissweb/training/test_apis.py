"""The training API: who may do what, 202/404/409/422 answers, run status, stats, download, schema."""

from __future__ import annotations

import pytest

import detector
from kissweb.analysis.models import ModelVersion
from kissweb.library.models import Annotation, Segment
from kissweb.training import services
from kissweb.training.models import TrainingRun
from tests.kissweb.training.conftest import annotate, movie_with_scenes

pytestmark = pytest.mark.django_db


@pytest.fixture
def trained(labelled_library, kissing, staff_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        run = services.training_request(scene_type=kissing, requested_by=staff_user)
    return services.training_run(run_id=run.pk)


def test_staff_queue_a_training_and_get_202_with_the_run(
    labelled_library, staff_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = staff_client.post("/api/scene-types/kissing/train/")
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["status"] == "queued" and body["scene_type"] == "kissing" and body["progress"] == 0.0
    assert len(callbacks) == 1
    assert staff_client.get(body["url"]).json()["id"] == body["id"]
    again = staff_client.post("/api/scene-types/kissing/train/")
    assert again.status_code == 409 and "already queued or running" in again.json()["detail"]


def test_training_is_for_staff_only(labelled_library, api_client, anon_client):
    assert api_client.post("/api/scene-types/kissing/train/").status_code == 403
    assert anon_client.post("/api/scene-types/kissing/train/").status_code in (401, 403)
    assert not TrainingRun.objects.exists()


def test_too_few_annotations_answer_422_saying_how_many_more(user, kissing, staff_client):
    movie = movie_with_scenes(user, kinds=[0] * 40, seed=1)
    annotate(movie, kissing, 0, 10, "positive", user)
    annotate(movie, kissing, 10, 20, "negative", user)
    annotate(movie, kissing, 20, 30, "negative", user)
    response = staff_client.post("/api/scene-types/kissing/train/")
    assert response.status_code == 422
    body = response.json()
    assert "1 more positive span" in body["detail"] and "negative span" not in body["detail"].split("Label")[1]
    assert body["spans_needed"] == {"positive": 1, "negative": 0}


def test_missing_ids_answer_404_json(staff_client):
    for url in ("/api/scene-types/nope/train/", "/api/training-runs/999999/", "/api/models/999999/download/",
                "/api/scene-types/nope/suggestions/", "/api/scene-types/nope/stats/"):
        method = staff_client.post if url.endswith("train/") else staff_client.get
        response = method(url)
        assert response.status_code == 404, url
        assert "detail" in response.json()


def test_reads_need_a_login(anon_client, trained):
    for url in (f"/api/training-runs/{trained.pk}/", "/api/scene-types/kissing/stats/",
                "/api/scene-types/kissing/suggestions/", f"/api/models/{trained.model_version_id}/download/",
                "/api/scene-types/kissing/training-runs/"):
        assert anon_client.get(url).status_code in (401, 403), url


def test_the_run_reports_its_model_and_metrics(api_client, trained):
    body = api_client.get(f"/api/training-runs/{trained.pk}/").json()
    assert body["status"] == "succeeded" and body["model_version"] == trained.model_version_id
    assert body["model_version_status"] == "ready"
    assert body["metrics"]["f1"] >= 0.95 and body["n_spans"] == 9
    listed = api_client.get("/api/scene-types/kissing/training-runs/").json()
    assert [r["id"] for r in listed] == [trained.pk]


def test_download_gives_the_safetensors_file(api_client, trained, tmp_path):
    response = api_client.get(f"/api/models/{trained.model_version_id}/download/")
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"] and ".safetensors" in response["Content-Disposition"]
    path = tmp_path / "downloaded.safetensors"
    path.write_bytes(b"".join(response.streaming_content))
    assert detector.load_model(path).card["metrics"]["f1"] == trained.model_version.metrics["f1"]


def test_stats_put_versions_side_by_side_with_observed_precision(api_client, trained, kissing, user, labelled_library):
    version = trained.model_version
    movie = labelled_library[0]
    for i, label in enumerate(["positive", "positive", "positive", "negative"]):
        segment = Segment.objects.create(
            movie=movie, scene_type=kissing, start_s=i * 10, end_s=i * 10 + 5, source="manual"
        )
        Annotation.objects.create(movie=movie, scene_type=kissing, start_s=i * 10, end_s=i * 10 + 5, label=label,
                                  segment=segment, model_version=version, author=user)
    older = ModelVersion.objects.create(scene_type=kissing, name="uploaded one", backbone_set="offline")

    body = api_client.get("/api/scene-types/kissing/stats/").json()
    assert body["annotations"]["positive_spans"] == 3 + 3 and body["can_train"] is True
    assert body["annotations"]["usable_positive_spans"] == 6 and body["annotations"]["usable_negative_spans"] == 6 + 1
    assert [v["id"] for v in body["versions"]] == [older.pk, version.pk]
    trained_row = body["versions"][1]
    assert trained_row["observed"] == {"confirmed": 3, "rejected": 1, "precision": 0.75}
    assert trained_row["heldout"]["f1"] == version.metrics["f1"]
    assert trained_row["download_url"] == f"/api/models/{version.pk}/download/"
    assert trained_row["origin"] == "trained here" and trained_row["training_run"] == trained.pk
    assert body["versions"][0]["observed"]["precision"] is None


def test_the_schema_lists_the_training_endpoints(api_client):
    response = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    paths = response.json()["paths"] if response["Content-Type"].endswith("json") else response.content.decode()
    for path in ("/api/scene-types/{slug}/train/", "/api/training-runs/{run_id}/", "/api/scene-types/{slug}/suggestions/",
                 "/api/models/{model_id}/download/", "/api/scene-types/{slug}/stats/"):
        assert path in paths


def test_stats_say_training_must_wait_for_analysis(api_client, user, kissing):
    from tests.kissweb.training.conftest import movie_make

    waiting = movie_make(user, duration_s=60)
    for i in range(2):
        annotate(waiting, kissing, i * 10, i * 10 + 5, "positive", user)
        annotate(waiting, kissing, 30 + i * 10, 30 + i * 10 + 5, "negative", user)
    body = api_client.get("/api/scene-types/kissing/stats/").json()
    assert body["annotations"]["positive_spans"] == 2 and body["annotations"]["usable_positive_spans"] == 0
    assert body["can_train"] is False and body["spans_needed"] == {"positive": 2, "negative": 2}


def test_messages_name_the_scene_type_as_the_pages_do(api_client, staff_client, kissing):
    """Issue 19 item 22: 'kissing' in messages against 'Kissing' on the pages: the scene type's name throughout."""
    detail = api_client.get("/api/scene-types/kissing/suggestions/").json()["detail"]
    assert detail.startswith("Kissing has no active model yet")
    refused = staff_client.post("/api/scene-types/kissing/train/")
    assert refused.status_code == 422 and refused.json()["detail"].startswith("Training Kissing needs")
