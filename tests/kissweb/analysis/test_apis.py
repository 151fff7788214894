"""The analysis endpoints: analyze, analyses, scores, model versions."""

from __future__ import annotations

import threading

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from kissweb.analysis import pipeline, services
from kissweb.jobs import runner as jobs_runner
from kissweb.analysis.models import Analysis, AnalysisStatus, ModelVersion

pytestmark = pytest.mark.django_db


def _upload(path, name=None):
    return SimpleUploadedFile(name or path.name, path.read_bytes(), content_type="application/octet-stream")


# --- analyze -------------------------------------------------------------------------------------------------


def test_the_uploader_queues_an_analysis_and_a_second_request_gets_409(api_client, make_movie):
    movie = make_movie()
    first = api_client.post(f"/api/movies/{movie.pk}/analyze/")
    assert first.status_code == 202
    assert first.json()["status"] == "queued" and first.json()["movie"] == movie.pk
    second = api_client.post(f"/api/movies/{movie.pk}/analyze/")
    assert second.status_code == 409
    assert "already being analysed" in second.json()["detail"] and second.json()["analysis"] == first.json()["id"]


def test_staff_may_analyse_anyone_s_movie(staff_client, make_movie):
    assert staff_client.post(f"/api/movies/{make_movie().pk}/analyze/").status_code == 202


def test_another_user_anonymous_and_missing_movies_are_refused(other_client, anon_client, api_client, make_movie):
    movie = make_movie()
    forbidden = other_client.post(f"/api/movies/{movie.pk}/analyze/")
    assert forbidden.status_code == 403 and "uploaded" in forbidden.json()["detail"]
    assert anon_client.post(f"/api/movies/{movie.pk}/analyze/").status_code in (401, 403)
    missing = api_client.post("/api/movies/999999/analyze/")
    assert missing.status_code == 404 and missing.json()["detail"]
    assert not Analysis.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_analyze_requests_at_once_one_runs_the_other_gets_409(make_movie, user):
    from rest_framework.test import APIClient

    movie = make_movie()
    barrier = threading.Barrier(2)
    codes = []

    def request():
        client = APIClient()
        client.force_authenticate(user=user)
        barrier.wait()
        try:
            codes.append(client.post(f"/api/movies/{movie.pk}/analyze/").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=request) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes) == [202, 409]
    assert Analysis.objects.filter(movie=movie).count() == 1


def test_analyses_of_a_movie_are_listed_newest_first(api_client, make_movie, embedder, monkeypatch):
    monkeypatch.setattr(jobs_runner, "PROGRESS_EVERY_S", 0.0)
    movie = make_movie()
    first = services.analysis_request(movie=movie)
    pipeline.analysis_run(analysis_id=first.pk)
    second = services.analysis_request(movie=movie)
    body = api_client.get(f"/api/movies/{movie.pk}/analyses/").json()
    assert [a["id"] for a in body["results"]] == [second.pk, first.pk]
    detail = api_client.get(f"/api/analyses/{first.pk}/").json()
    assert detail["status"] == "succeeded" and detail["backbone_set"] == "offline" and "embed" in detail["timings_s"]


# --- scores --------------------------------------------------------------------------------------------------


def test_scores_say_no_model_yet_instead_of_pretending_there_are_no_scenes(api_client, make_movie, embedder):
    movie = make_movie()
    pipeline.analysis_run(analysis_id=services.analysis_request(movie=movie).pk)
    response = api_client.get(f"/api/movies/{movie.pk}/scores/?scene_type=kissing")
    assert response.status_code == 404
    assert "No model for 'kissing' yet" in response.json()["detail"] and response.json()["has_model"] is False


def test_scores_give_one_probability_per_second(api_client, make_movie, embedder, active_model):
    version = active_model()
    embedder.positive = set(range(10, 22))
    movie = make_movie()
    pipeline.analysis_run(analysis_id=services.analysis_request(movie=movie).pk)
    body = api_client.get(f"/api/movies/{movie.pk}/scores/?scene_type=kissing").json()
    assert body["window_s"] == 1.0 and body["model_version"] == version.pk and len(body["scores"]) == 30
    assert all(p > 0.99 for p in body["scores"][10:22]) and all(p < 0.01 for p in body["scores"][:10])


def test_a_film_whose_audio_could_not_be_decoded_says_so_until_an_analysis_decodes_it_well(
    api_client, make_movie, embedder, active_model
):
    active_model()
    embedder.audio_warning = "The audio track (aac) could not be decoded from 12.0 s on; it was analysed as silence."
    movie = make_movie()
    assert pipeline.analysis_run(analysis_id=services.analysis_request(movie=movie).pk) == "succeeded"
    assert api_client.get(f"/api/movies/{movie.pk}/").json()["audio_warning"] == embedder.audio_warning

    rescore = services.analysis_request(movie=movie, kind="rescore")
    assert pipeline.analysis_run(analysis_id=rescore.pk) == "succeeded" and len(embedder.calls) == 1
    assert api_client.get(f"/api/movies/{movie.pk}/").json()["audio_warning"] == embedder.audio_warning  # kept

    embedder.audio_warning = ""  # analysed again, and this time the audio decodes
    assert pipeline.analysis_run(analysis_id=services.analysis_request(movie=movie).pk) == "succeeded"
    assert api_client.get(f"/api/movies/{movie.pk}/").json()["audio_warning"] == ""
    listed = api_client.get("/api/movies/").json()["results"]
    assert [m["audio_warning"] for m in listed] == [""]


def test_scores_before_the_analysis_finished_and_for_unknown_types_are_404(api_client, make_movie, active_model):
    active_model()
    movie = make_movie()
    pending = api_client.get(f"/api/movies/{movie.pk}/scores/?scene_type=kissing")
    assert pending.status_code == 404 and "no 'kissing' scores yet" in pending.json()["detail"]
    unknown = api_client.get(f"/api/movies/{movie.pk}/scores/?scene_type=dancing")
    assert unknown.status_code == 404 and "no scene type 'dancing'" in unknown.json()["detail"]


# --- models --------------------------------------------------------------------------------------------------


def test_only_staff_upload_model_files(api_client, model_file, media_root):
    response = api_client.post(
        "/api/scene-types/kissing/models/", {"file": _upload(model_file()), "name": "mine"}, format="multipart"
    )
    assert response.status_code == 403 and "Only staff" in response.json()["detail"]
    assert not ModelVersion.objects.exists()
    assert not [p for p in media_root.rglob("*") if p.is_file()]


def test_a_model_file_upload_creates_an_inactive_version(staff_client, model_file, media_root):
    response = staff_client.post(
        "/api/scene-types/kissing/models/", {"file": _upload(model_file()), "name": "mine"}, format="multipart"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["name"] == "mine" and body["scene_type"] == "kissing" and body["is_active"] is False
    assert body["backbone_set"] == "offline" and body["status"] == "ready"


def test_a_bad_model_upload_is_a_400_with_a_sentence(staff_client, tmp_path, model_file, media_root):
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x80\x04 a pickle pretending")
    response = staff_client.post("/api/scene-types/kissing/models/", {"file": _upload(junk)}, format="multipart")
    assert response.status_code == 400 and "not a usable model file" in response.json()["detail"]
    wrong = staff_client.post(
        "/api/scene-types/kissing/models/", {"file": _upload(model_file(scene_type="fight"))}, format="multipart"
    )
    assert wrong.status_code == 400 and "trained for the scene type 'fight'" in wrong.json()["detail"]
    assert not ModelVersion.objects.exists()


def test_the_published_model_pkl_uploads_through_the_same_form_as_a_model_file(staff_client, media_root):
    from tests.kissweb.training.test_reference_import import published_pickle

    module, content = published_pickle()
    upload = SimpleUploadedFile("model.pkl", content, content_type="application/octet-stream")
    response = staff_client.post("/api/scene-types/kissing/models/", {"file": upload}, format="multipart")
    assert response.status_code == 201, response.json()
    version = ModelVersion.objects.get(pk=response.json()["id"])
    assert version.name == "Published model (Ziai 2019)" and version.card["channel_order"] == "BGR"
    assert version.weights.name.endswith(".safetensors")
    assert sorted(p.name for p in (media_root / "models").iterdir()) == [version.weights.name.split("/")[-1]]


def test_models_are_listed_newest_first_and_filtered_by_scene_type(api_client, kissing, model_file, media_root):
    first = services.model_version_create(scene_type=kissing, file=model_file(), name="a")
    second = services.model_version_create(scene_type=kissing, file=model_file(), name="b")
    body = api_client.get("/api/models/?scene_type=kissing").json()
    assert [m["id"] for m in body["results"]] == [second.pk, first.pk]
    assert set(body["results"][0]) >= {
        "id", "name", "scene_type", "backbone_set", "is_active", "status", "metrics", "created_at", "download_url"
    }
    assert api_client.get("/api/models/?scene_type=fight").json()["results"] == []


def test_staff_activate_a_model_and_the_library_is_rescored(
    staff_client, api_client, make_movie, embedder, kissing, model_file
):
    movie = make_movie()
    pipeline.analysis_run(analysis_id=services.analysis_request(movie=movie).pk)
    version = services.model_version_create(scene_type=kissing, file=model_file())

    assert api_client.post(f"/api/models/{version.pk}/activate/").status_code == 403
    response = staff_client.post(f"/api/models/{version.pk}/activate/")

    assert response.status_code == 200
    body = response.json()
    assert body["model"]["is_active"] is True and body["rescore"]["rescore"] == 1
    assert Analysis.objects.filter(movie=movie, run__status=AnalysisStatus.QUEUED, run__kind="rescore").exists()


def test_activating_an_old_bgr_import_is_refused_with_a_sentence(staff_client, kissing, model_file):
    version = services.model_version_create(scene_type=kissing, file=model_file(channel_order="BGR"), name="pkl")
    response = staff_client.post(f"/api/models/{version.pk}/activate/")
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert isinstance(detail, str) and detail.startswith("Model 'pkl' expects BGR frames")


def test_staff_see_what_activation_costs_before_they_confirm(
    staff_client, make_movie, embedder, kissing, model_file
):
    movie = make_movie(duration_s=7200.0)
    pipeline.analysis_run(analysis_id=services.analysis_request(movie=movie).pk)
    paper = services.model_version_create(scene_type=kissing, file=model_file(backbone_set="paper"), name="p")

    response = staff_client.get(f"/api/models/{paper.pk}/activation-cost/")

    assert response.status_code == 200
    body = response.json()
    assert (body["films"], body["decode_films"], body["decode_hours"], body["backbone_set"]) == (1, 1, 2.0, "paper")
    assert "decodes 1 film(s) once (2.0 h of video)" in body["message"]
    assert not ModelVersion.objects.filter(is_active=True).exists()  # looking changes nothing
    assert not Analysis.objects.filter(run__kind="rescore").exists()


def test_the_activation_cost_is_for_staff_only(api_client, other_client, anon_client, staff_client, kissing,
                                                model_file):
    version = services.model_version_create(scene_type=kissing, file=model_file(), name="o")
    url = f"/api/models/{version.pk}/activation-cost/"
    assert api_client.get(url).status_code == 403
    assert other_client.get(url).status_code == 403
    assert anon_client.get(url).status_code in (401, 403)
    assert staff_client.get("/api/models/999999/activation-cost/").status_code == 404
