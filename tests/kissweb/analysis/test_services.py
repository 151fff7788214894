"""Queueing, model registration and activation, re-scoring from stored embeddings, settings, the sweeper."""

from __future__ import annotations

import pytest
from django.db import transaction

from kissweb import errors
from kissweb.analysis import conf, pipeline, services
from kissweb.jobs import conf as jobs_conf
from kissweb.jobs import runner as jobs_runner
from kissweb.jobs.models import Run
from kissweb.analysis.models import Analysis, AnalysisKind, AnalysisStatus, ModelVersion, MovieEmbedding
from kissweb.library.models import MovieStatus, SceneType, Segment, SegmentSource


@pytest.fixture(autouse=True)
def every_progress_written(monkeypatch):
    monkeypatch.setattr(jobs_runner, "PROGRESS_EVERY_S", 0.0)


def _queued_task_names():
    from django_q.models import OrmQ

    return sorted(task.name() for task in OrmQ.objects.all())


def _detected(movie):
    return list(
        Segment.objects.filter(movie=movie, source=SegmentSource.DETECTED).order_by("start_s").values_list(
            "start_s", "end_s"
        )
    )


def _run_all_queued():
    outcomes = []
    for analysis_id in Analysis.objects.filter(run__status=AnalysisStatus.QUEUED).order_by("pk").values_list("pk", flat=True):
        outcomes.append(pipeline.analysis_run(analysis_id=analysis_id))
    return outcomes


# --- queueing ------------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_analysis_is_queued_only_after_the_transaction_commits(make_movie):
    with transaction.atomic():
        movie = make_movie()
        analysis = services.analysis_request(movie=movie)
        assert _queued_task_names() == []
    assert _queued_task_names() == [f"analyze-{analysis.run_id}"]
    analysis.refresh_from_db()
    movie.refresh_from_db()
    assert analysis.status == AnalysisStatus.QUEUED and analysis.task_id
    assert movie.status == MovieStatus.QUEUED


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_upload_queues_nothing(make_movie):
    class UploadFailed(Exception):
        pass

    with pytest.raises(UploadFailed), transaction.atomic():
        movie = make_movie()
        services.analysis_request(movie=movie)
        raise UploadFailed
    assert _queued_task_names() == [] and not Analysis.objects.exists()


@pytest.mark.django_db
def test_a_second_request_while_one_is_queued_is_refused(make_movie):
    movie = make_movie()
    services.analysis_request(movie=movie)
    with pytest.raises(services.AnalysisAlreadyActive, match="already being analysed"):
        services.analysis_request(movie=movie)
    assert Analysis.objects.filter(movie=movie).count() == 1


@pytest.mark.django_db
def test_the_task_timeout_grows_with_the_movie_and_stays_below_retry(make_movie, monkeypatch):
    sent = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda *args, **kwargs: sent.append(kwargs) or "task-id")
    short, long = make_movie(duration_s=60.0), make_movie(duration_s=3600.0)
    jobs_runner.run_enqueue(run_id=services.analysis_request(movie=short).run_id)
    jobs_runner.run_enqueue(run_id=services.analysis_request(movie=long).run_id)
    assert sent[0]["timeout"] < sent[1]["timeout"] <= conf.task_timeout_cap_s() < jobs_conf.task_retry_s()


# --- models --------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_model_file_is_registered_inactive_with_its_card(kissing, model_file, media_root):
    version = services.model_version_create(scene_type=kissing, file=model_file(), name="first try")
    assert (version.name, version.backbone_set, version.is_active) == ("first try", "offline", False)
    assert version.card["scene_type"] == "kissing" and (media_root / version.weights.name).is_file()


@pytest.mark.django_db
def test_a_file_that_is_not_a_model_is_refused_and_nothing_kept(kissing, tmp_path, media_root):
    bad = tmp_path / "notes.safetensors"
    bad.write_bytes(b"these are my notes, not a model")
    with pytest.raises(errors.Invalid) as caught:
        services.model_version_create(scene_type=kissing, file=bad)
    assert "not a usable model file" in caught.value.fields["file"][0]
    assert not ModelVersion.objects.exists() and list((media_root / "models").iterdir()) == []


@pytest.mark.django_db
def test_a_model_for_another_scene_type_is_refused(kissing, model_file):
    with pytest.raises(errors.Invalid, match="trained for the scene type 'fight'"):
        services.model_version_create(scene_type=kissing, file=model_file(scene_type="fight"))


@pytest.mark.django_db
def test_activation_keeps_one_active_model_and_rescores_without_decoding(
    make_movie, embedder, kissing, model_file, media_root
):
    embedder.positive = set(range(10, 22))
    movie = make_movie()
    services.analysis_request(movie=movie)
    _run_all_queued()
    assert _detected(movie) == []  # no model yet

    (media_root / movie.file.name).unlink()  # a re-score must not need the video
    old = services.model_version_create(scene_type=kissing, file=model_file(), name="old")
    services.model_version_activate(model_version=old)
    new = services.model_version_create(scene_type=kissing, file=model_file(), name="new")
    for run in Run.objects.filter(status=AnalysisStatus.QUEUED):
        jobs_runner.run_cancel(run=run)
    plan = services.model_version_activate(model_version=new)

    assert list(ModelVersion.objects.filter(is_active=True)) == [new]
    assert plan.as_dict()["rescore"] == 1 and plan.as_dict()["re_embed"] == 0
    rescore = Analysis.objects.get(pk=plan.rescore[0])
    assert rescore.kind == AnalysisKind.RESCORE
    assert _run_all_queued() == ["succeeded"]
    assert len(embedder.calls) == 1  # the first analysis only
    assert _detected(movie) == [(10.0, 22.0)]
    rescore.refresh_from_db()
    assert list(rescore.model_versions.all()) == [new] and "load_embeddings" in rescore.timings_s


@pytest.mark.django_db
def test_a_bgr_head_on_standard_backbones_is_not_activated_on_rgb_embeddings(kissing, model_file, active_model):
    # What older versions imported from model.pkl: the published head paired with the ImageNet (paper) backbones.
    current = active_model()
    old_import = services.model_version_create(scene_type=kissing, file=model_file(channel_order="BGR"), name="pkl")
    with pytest.raises(errors.Unprocessable, match="import the published model.pkl again"):
        services.model_version_activate(model_version=old_import)
    assert list(ModelVersion.objects.filter(is_active=True)) == [current]
    assert not Analysis.objects.filter(run__kind=AnalysisKind.RESCORE).exists()


@pytest.mark.django_db
def test_a_published_model_without_the_digest_of_its_backbones_is_refused(kissing, tmp_path):
    import json

    from safetensors.numpy import save_file

    from tests.kissweb.analysis.conftest import first_feature_model

    model = first_feature_model(backbone_set="published")  # written as an older import did: no backbones, no digest
    path = tmp_path / "old-import.safetensors"
    save_file({"weight": model.weight, "bias": model.bias}, str(path), metadata={"card": json.dumps(model.card)})
    with pytest.raises(errors.Invalid, match="digest"):
        services.model_version_create(scene_type=kissing, file=path)
    assert not ModelVersion.objects.exists()


@pytest.mark.django_db
def test_a_model_needing_other_backbones_decodes_once_for_them_and_says_so(make_movie, embedder, kissing, model_file):
    embedder.positive = set(range(10, 22))
    movie = make_movie()
    services.analysis_request(movie=movie)
    _run_all_queued()

    paper = services.model_version_create(scene_type=kissing, file=model_file(backbone_set="paper"))
    plan = services.model_version_activate(model_version=paper)

    assert plan.as_dict()["re_embed"] == 1 and "re-embedded" in plan.as_dict()["message"]
    analysis = Analysis.objects.get(pk=plan.re_embed[0])
    assert analysis.kind == AnalysisKind.RESCORE
    assert analysis.stage == "re-embedding: model needs the paper backbones"
    assert _run_all_queued() == ["succeeded"]
    assert [backbone for _, backbone in embedder.calls] == ["offline", "paper"]  # the offline ones were kept
    assert _detected(movie) == [(10.0, 22.0)]
    assert sorted(MovieEmbedding.objects.filter(movie=movie).values_list("backbone_set", flat=True)) == [
        "offline", "paper"
    ]


@pytest.mark.django_db
def test_switching_back_and_forth_between_two_models_never_decodes_twice(make_movie, embedder, kissing, model_file):
    embedder.positive = set(range(10, 22))
    movies = [make_movie(), make_movie()]
    for movie in movies:
        services.analysis_request(movie=movie)
    _run_all_queued()
    offline = services.model_version_create(scene_type=kissing, file=model_file(backbone_set="offline"), name="o")
    paper = services.model_version_create(scene_type=kissing, file=model_file(backbone_set="paper"), name="p")

    for version in (paper, offline, paper, offline, paper):
        services.model_version_activate(model_version=version)
        assert set(_run_all_queued()) == {"succeeded"}
        for movie in movies:
            assert _detected(movie) == [(10.0, 22.0)]
            assert Segment.objects.filter(movie=movie, model_version=version).exists()

    decoded = [(path, backbone) for path, backbone in embedder.calls]
    assert len(decoded) == len(set(decoded)) == 4  # each film once per backbone set, never again


@pytest.mark.django_db
def test_the_activation_cost_counts_films_and_hours_to_decode(make_movie, embedder, kissing, model_file):
    from kissweb.analysis import selectors

    short, long = make_movie(duration_s=30.0), make_movie(duration_s=5400.0)
    make_movie(duration_s=600.0)  # never analysed: activation does not touch it
    for movie in (short, long):
        services.analysis_request(movie=movie)
    _run_all_queued()
    paper = services.model_version_create(scene_type=kissing, file=model_file(backbone_set="paper"), name="p")
    offline = services.model_version_create(scene_type=kissing, file=model_file(backbone_set="offline"), name="o")

    cost = selectors.model_version_activation_cost(model_version=paper)
    assert (cost["films"], cost["rescore_from_stored"], cost["decode_films"]) == (2, 0, 2)
    assert cost["decode_seconds"] == 5430.0 and cost["decode_hours"] == round(5430 / 3600, 2)
    assert "decodes 2 film(s) once (1.5 h of video) for the paper backbones" in cost["message"]
    assert selectors.model_version_activation_cost(model_version=offline)["decode_films"] == 0

    services.model_version_activate(model_version=paper)
    _run_all_queued()
    after = selectors.model_version_activation_cost(model_version=paper)
    assert (after["rescore_from_stored"], after["decode_films"], after["decode_seconds"]) == (2, 0, 0.0)
    assert "no video is decoded" in after["message"]


@pytest.mark.django_db
def test_new_aggregation_settings_rederive_segments_from_stored_scores(make_movie, embedder, active_model, kissing):
    SceneType.objects.filter(pk=kissing.pk).update(min_frames=10)  # the paper's shortest scene
    active_model()
    embedder.n_windows = 60
    embedder.positive = set(range(10, 22)) | set(range(40, 46))
    movie = make_movie(duration_s=60.0)
    services.analysis_request(movie=movie)
    _run_all_queued()
    assert _detected(movie) == [(10.0, 22.0)]  # 6 s is shorter than min_frames=10

    SceneType.objects.filter(pk=kissing.pk).update(min_frames=5)
    changes = services.scene_type_settings_changed(scene_type=kissing, queue=False)

    assert _detected(movie) == [(10.0, 22.0), (40.0, 46.0)]
    assert changes[movie.pk]["added"] == [[40.0, 46.0]] and changes[movie.pk]["unchanged"] == 1
    assert len(embedder.calls) == 1


@pytest.mark.django_db
def test_unreadable_stored_embeddings_are_rebuilt_and_the_stage_says_why(make_movie, embedder, active_model,
                                                                         media_root, kissing):
    active_model()
    embedder.positive = set(range(10, 22))
    movie = make_movie()
    services.analysis_request(movie=movie)
    _run_all_queued()
    from kissweb.analysis.models import MovieEmbedding

    (media_root / MovieEmbedding.objects.get(movie=movie).file.name).write_bytes(b"damaged")
    stages = []
    embedder.on_window = lambda index: stages.append(Analysis.objects.filter(movie=movie).first().stage)
    rescore = services.analysis_request(movie=movie, kind=AnalysisKind.RESCORE)

    assert _run_all_queued() == ["succeeded"]
    assert "re-embedding: the stored offline embeddings could not be read" in stages
    assert len(embedder.calls) == 2 and _detected(movie) == [(10.0, 22.0)]
    rescore.refresh_from_db()
    assert rescore.status == AnalysisStatus.SUCCEEDED
