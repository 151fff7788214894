"""Training runs end to end on stored (synthetic) embeddings: gather, train, measure, save, refuse, fail."""

from __future__ import annotations

from datetime import timedelta

from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

import detector
from kissweb.analysis.models import ModelVersion, MovieEmbedding
from kissweb.training import services
from kissweb.training.dataset import NotEnoughAnnotations
from kissweb.jobs.models import Run
from kissweb.jobs.sweeper import run_sweep
from kissweb.training.models import TrainingRun, TrainingRunStatus
from tests.kissweb.training.conftest import annotate, movie_with_scenes
from tests.runs import training_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def user(staff_user):
    """Training is staff's (kissweb.permissions, asked by the service itself): the person training here is staff."""
    return staff_user


def run_training(scene_type, user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = services.training_request(scene_type=scene_type, requested_by=user)
    assert len(callbacks) == 1, "the run is queued only when the transaction commits"
    return services.training_run(run_id=run.pk)


def test_training_makes_a_ready_measured_model_version(labelled_library, kissing, user, django_capture_on_commit_callbacks):
    run = run_training(kissing, user, django_capture_on_commit_callbacks)

    assert run.status == TrainingRunStatus.SUCCEEDED, run.error
    assert (run.n_spans, run.n_movies, run.n_seconds) == (9, 3, 180)
    assert run.progress == 1.0 and run.finished_at >= run.started_at
    version = run.model_version
    assert version.status == "ready" and not version.is_active and version.backbone_set == "offline"
    metrics = version.metrics
    assert metrics["f1"] >= 0.95 and metrics["precision"] >= 0.95 and metrics["recall"] >= 0.95
    (tn, fp), (fn, tp) = metrics["confusion"]
    assert tn + fp + fn + tp == metrics["n_heldout_seconds"] == 20 * metrics["n_heldout_spans"]
    assert metrics["n_seconds"] == 180
    assert metrics["n_heldout_spans"] >= 2 and metrics["n_train_spans"] + metrics["n_heldout_spans"] == 9
    assert metrics["segment_recall"] == 1.0 and metrics["segment_precision"] == 1.0
    assert (metrics["n_spans"], metrics["n_movies"]) == (9, 3)
    model = detector.load_model(version.weights.path)
    assert model.card["metrics"]["f1"] == metrics["f1"]
    assert model.card["scene_type"] == "kissing" and model.card["training"]["training_run"] == run.pk
    assert version.card == model.card


def test_heldout_seconds_come_from_spans_never_seen_in_training(labelled_library, kissing, user, django_capture_on_commit_callbacks):
    run = run_training(kissing, user, django_capture_on_commit_callbacks)
    card = run.model_version.card
    heldout = set(card["training"]["heldout_annotation_ids"])
    assert heldout and heldout < {a.pk for m in labelled_library for a in m.annotations.all()}
    assert card["metrics"]["confusion"][1][1] + card["metrics"]["confusion"][1][0] == 20 * sum(
        1 for a in kissing.annotations.filter(pk__in=heldout, label="positive")
    )


def test_unannotated_seconds_are_never_used(user, kissing, django_capture_on_commit_callbacks):
    for seed in range(2):
        # 100 unannotated seconds of scene-like content: were they taken as negatives, the model would suffer.
        movie = movie_with_scenes(user, kinds=[0] * 10 + [1] * 10 + [1] * 100, seed=seed)
        annotate(movie, kissing, 0, 10, "negative", user)
        annotate(movie, kissing, 10, 20, "positive", user)
    run = run_training(kissing, user, django_capture_on_commit_callbacks)
    assert run.status == "succeeded", run.error
    assert run.n_seconds == 40
    assert run.model_version.metrics["n_heldout_seconds"] == 20


@pytest.mark.parametrize(
    ("positive", "negative", "needed"),
    [(0, 0, "2 more positive spans and 2 more negative spans"), (1, 2, "1 more positive span"),
     (2, 1, "1 more negative span"), (1, 5, "1 more positive span")],
)
def test_too_few_spans_is_refused_saying_how_many_more(user, kissing, positive, negative, needed):
    movie = movie_with_scenes(user, kinds=[0] * 60, seed=0)
    for i in range(positive):
        annotate(movie, kissing, i * 5, i * 5 + 4, "positive", user)
    for i in range(negative):
        annotate(movie, kissing, 30 + i * 5, 30 + i * 5 + 4, "negative", user)
    with pytest.raises(NotEnoughAnnotations) as err:
        services.training_request(scene_type=kissing, requested_by=user)
    message = str(err.value)
    assert needed in message
    assert f"it has {positive} positive and {negative} negative" in message
    assert not TrainingRun.objects.exists()


def test_a_second_request_while_one_is_queued_is_refused(labelled_library, kissing, user):
    services.training_request(scene_type=kissing, requested_by=user)
    with pytest.raises(services.TrainingAlreadyActive, match="already queued or running"):
        services.training_request(scene_type=kissing, requested_by=user)
    assert TrainingRun.objects.count() == 1


def test_the_database_allows_one_active_run_per_scene_type(kissing):
    training_create(scene_type=kissing, status="running")
    with pytest.raises(IntegrityError, match="one_active_run_per_lock"), transaction.atomic():
        training_create(scene_type=kissing, status="queued")
    training_create(scene_type=kissing, status="failed")


def test_a_training_whose_worker_died_is_queued_again_and_finishes(labelled_library, kissing, user):
    """The same stale limit and retries as analysis (kissweb.jobs): the sweeper queues it again."""
    run = services.training_request(scene_type=kissing, requested_by=user, queue=False)
    long_ago = timezone.now() - timedelta(hours=1)
    Run.objects.filter(training=run).update(status="running", attempts=1, heartbeat_at=long_ago, started_at=long_ago)
    with pytest.raises(services.TrainingAlreadyActive):
        services.training_request(scene_type=kissing, requested_by=user)

    assert run_sweep()["requeued"] == [run.run_id]
    run.refresh_from_db()
    assert run.status == "queued" and "stopped reporting progress" in run.error

    finished = services.training_run(run_id=run.pk)
    assert finished.status == "succeeded" and finished.run.attempts == 2


def test_a_broken_embedding_fails_the_run_with_a_reason_and_no_ready_model(
    labelled_library, kissing, user, django_capture_on_commit_callbacks
):
    embedding = MovieEmbedding.objects.filter(movie=labelled_library[0]).get()
    features = np.load(embedding.file.path)
    features[25] = np.nan
    np.save(embedding.file.path, features)
    run = run_training(kissing, user, django_capture_on_commit_callbacks)
    assert run.status == "failed"
    assert "NaN" in run.error
    assert run.model_version.status == "failed" and run.model_version.error == run.error
    assert not ModelVersion.objects.filter(status="ready").exists()


def test_a_finished_run_delivered_again_is_not_run_twice(labelled_library, kissing, user, django_capture_on_commit_callbacks):
    run = run_training(kissing, user, django_capture_on_commit_callbacks)
    again = services.training_run(run_id=run.pk)
    assert again.model_version_id == run.model_version_id
    assert ModelVersion.objects.count() == 1


@pytest.mark.parametrize(("n_seconds", "epochs"), [(20, 300), (1000, 19), (20_000, 10)])
def test_small_libraries_get_enough_optimiser_steps(n_seconds, epochs):
    assert services.epochs_for(n_seconds) == epochs


def test_a_silent_training_gives_up_after_its_last_attempt_and_the_page_stops_waiting(kissing):
    from kissweb.training import selectors, tasks

    dead = training_create(scene_type=kissing, status="running",
                           run_fields={"attempts": 3, "heartbeat_at": timezone.now() - timedelta(hours=1)})
    assert selectors.training_run_active(scene_type=kissing) == dead
    assert tasks.training_sweep_task()["failed"] == [dead.run_id]
    dead.refresh_from_db()
    assert dead.status == "failed" and "gave up after 3 attempts" in dead.error
    assert selectors.training_run_active(scene_type=kissing) is None


def test_a_run_redelivered_after_its_worker_died_finishes_with_its_own_version(labelled_library, kissing, user):
    run = services.training_request(scene_type=kissing, requested_by=user, queue=False)
    half_done = ModelVersion.objects.create(scene_type=kissing, name="kissing v1", backbone_set="offline",
                                            status="training")
    long_ago = timezone.now() - timedelta(hours=1)
    TrainingRun.objects.filter(pk=run.pk).update(model_version=half_done)
    Run.objects.filter(training=run).update(status="running", attempts=1, heartbeat_at=long_ago, started_at=long_ago)
    finished = services.training_run(run_id=run.pk)
    assert finished.status == "succeeded" and finished.model_version_id == half_done.pk
    assert ModelVersion.objects.get().status == "ready"


def test_a_live_run_delivered_twice_is_left_to_its_worker(labelled_library, kissing, user):
    run = services.training_request(scene_type=kissing, requested_by=user, queue=False)
    Run.objects.filter(training=run).update(status="running", attempts=1, heartbeat_at=timezone.now(),
                                            started_at=timezone.now())
    assert services.training_run(run_id=run.pk).status == "running"
    assert not ModelVersion.objects.exists()


def test_spans_on_movies_not_analysed_yet_do_not_count_at_request_time(user, kissing):
    from tests.kissweb.training.conftest import movie_make

    analysed = movie_with_scenes(user, kinds=[0] * 40, seed=0)
    waiting = movie_make(user, duration_s=40)
    annotate(analysed, kissing, 0, 10, "positive", user)
    annotate(analysed, kissing, 10, 20, "negative", user)
    annotate(waiting, kissing, 0, 10, "positive", user)
    annotate(waiting, kissing, 10, 20, "negative", user)
    with pytest.raises(NotEnoughAnnotations) as err:
        services.training_request(scene_type=kissing, requested_by=user)
    message = str(err.value)
    assert "1 positive and 1 negative usable span(s)" in message and "no stored embeddings yet" in message
    assert "1 more positive span and 1 more negative span" in message


def test_a_saved_model_that_cannot_be_loaded_back_is_no_success(labelled_library, kissing, user, monkeypatch,
                                                                 django_capture_on_commit_callbacks):
    """Fault 5: training reported success for a file the app then refused to load (the safetensors header sniffed as
    a pickle). Whatever the reason, training loads what it saved before it says so."""
    real_save = detector.save_model

    def save_then_damage(model, path):
        saved = real_save(model, path)
        data = bytearray(Path(saved).read_bytes())
        data[:8] = (len(data) * 2).to_bytes(8, "little")  # a header length past the end of the file
        Path(saved).write_bytes(bytes(data))
        return saved

    monkeypatch.setattr(detector, "save_model", save_then_damage)
    run = run_training(kissing, user, django_capture_on_commit_callbacks)

    assert run.status == "failed" and run.run.attempts == 1
    assert "cannot be loaded back" in run.error and "/models/" not in run.error
    assert run.model_version.status == "failed" and not run.model_version.weights
    assert not ModelVersion.objects.filter(status="ready").exists()
    assert not list((Path(settings.MEDIA_ROOT) / "models").glob(f"kissing-{run.model_version_id}-*"))


def test_training_reports_progress_while_it_gathers_the_labelled_seconds(
    labelled_library, kissing, user, django_capture_on_commit_callbacks, monkeypatch
):
    """Issue 19 item 15: on 100,000 labels the run sat at 0% (no heartbeat either) while it built its data set."""
    from kissweb.jobs.runner import Runner

    reports: list[tuple[str, float]] = []
    real_report = Runner.report

    def recording(self, *, progress, stage=None, eta_s=None, force=False):
        reports.append((stage or "", progress))
        return real_report(self, progress=progress, stage=stage, eta_s=eta_s, force=True)

    monkeypatch.setattr(Runner, "report", recording)
    run = run_training(kissing, user, django_capture_on_commit_callbacks)
    assert run.status == TrainingRunStatus.SUCCEEDED, run.error
    gathering = [(stage, p) for stage, p in reports if stage.startswith("gathering labelled seconds")]
    assert [stage for stage, _ in gathering] == [
        f"gathering labelled seconds (movie {n} of 3)" for n in (1, 2, 3)]
    assert [round(p, 3) for _, p in gathering] == [0.0, 0.033, 0.067]
    first_training = next(i for i, (stage, _) in enumerate(reports) if stage == "training")
    assert max(i for i, (stage, _) in enumerate(reports) if stage.startswith("gathering")) < first_training
