"""Writes of training: queue a run, run it (gather, train, measure, save), fail stale runs, measure the quality."""

from __future__ import annotations

import logging
import secrets
import time
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction

from kissweb import permissions
from kissweb.analysis.backbones import standard_digest
from kissweb.analysis.models import ModelVersion, ModelVersionStatus
from kissweb.library.models import SceneType
from kissweb.training import evaluation
from kissweb.training.dataset import (
    NotEnoughAnnotations,
    TrainingSet,
    annotation_span_counts,
    features_load,
    not_enough_message,
    spans_split,
    trainable_embeddings,
    training_set_gather,
)
from kissweb.jobs.models import Run, RunStatus
from kissweb.library.scene_type_runs import SceneTypeRunner
from kissweb.jobs.runner import AlreadyActive, Failure
from kissweb.training.models import QualityEstimate, TrainingRun

log = logging.getLogger(__name__)

HEARTBEAT_EVERY_S = 1.0
# The paper's 10 epochs of batch 64 are few steps on a small library: train at least this many optimiser steps.
MIN_OPTIMISER_STEPS = 300
MAX_EPOCHS = 300
BATCH_SIZE = 64

__all__ = ["NotEnoughAnnotations", "TrainingAlreadyActive", "training_request", "training_run"]


class TrainingAlreadyActive(AlreadyActive):
    """A queued or running training exists for this scene type (the API answers 409)."""


class ModelNotReadable(Exception):
    """The model file training just saved cannot be loaded back (the version is not offered as ready)."""


class TrainingRunner(SceneTypeRunner):
    """Gather the annotated seconds, train the head, measure it on held-out spans, save a ready ModelVersion."""

    kind = "training"
    title = "Training"
    give_up_hint = "The worker's log has the details; press Train to try again."

    @classmethod
    def mirror(cls, *, run_id: int, subject_id: int, status: str, fields: dict) -> None:  # noqa: ARG003
        if status in (RunStatus.FAILED, RunStatus.CANCELLED):
            version_id = TrainingRun.objects.filter(run_id=run_id).values_list("model_version_id", flat=True).first()
            if version_id:
                ModelVersion.objects.filter(pk=version_id).exclude(status=ModelVersionStatus.READY).update(
                    status=ModelVersionStatus.FAILED, error=fields.get("error") or f"The training was {status}."
                )

    def first_stage(self) -> str:
        return "gathering"

    def work(self) -> None:
        training = TrainingRun.objects.select_related("scene_type", "model_version").get(run_id=self.run.pk)
        _train(self, training, epochs=self.options.get("epochs"), seed=self.options.get("seed", 0))

    def failure(self, exc: Exception) -> Failure | None:
        import detector

        if isinstance(exc, (NotEnoughAnnotations, detector.DetectorError, ModelNotReadable)):
            return Failure(str(exc))
        if isinstance(exc, (ValueError, ArithmeticError)):
            # Training on the same data computes the same again: another attempt cannot help.
            log.exception("training run %s failed", self.run.pk)
            return Failure(
                f"Training failed unexpectedly ({type(exc).__name__}: {exc}); the worker log has the details."
            )
        return None

    def training_callback(self, low: float, high: float):
        def callback(*args, **kwargs) -> None:
            numbers = [a for a in args if isinstance(a, (int, float))]
            if len(numbers) >= 2 and numbers[1]:
                self.report_with_eta("training", low + (high - low) * numbers[0] / numbers[1])
            else:
                self.report_with_eta("training", low)

        return callback

    def gathering_callback(self, low: float, high: float):
        """Progress while the labelled seconds are read from the stored embeddings, movie by movie."""

        def callback(done: int, total: int) -> None:
            self.report_with_eta(f"gathering labelled seconds (movie {done + 1} of {total})",
                                 low + (high - low) * done / max(total, 1))

        return callback

    def report_with_eta(self, stage: str, progress: float, *, force: bool = False) -> None:
        elapsed = time.monotonic() - self.started
        eta = elapsed * (1 - progress) / progress if progress > 0.02 else None
        self.report(progress=progress, stage=stage, eta_s=eta, force=force)

    @property
    def started(self) -> float:
        if not hasattr(self, "_started"):
            self._started = time.monotonic()
        return self._started


def training_request(*, scene_type: SceneType, requested_by=None, queue: bool = True) -> TrainingRun:
    """Queue a training run once the surrounding transaction commits (queue=False: the caller runs it).

    Refuses (NotEnoughAnnotations) with a sentence saying how many more spans are needed, and
    (TrainingAlreadyActive) while another run of the scene type is queued or running.
    """
    permissions.require_if_person(user=requested_by, action=permissions.TRAIN, subject=scene_type)
    message = not_enough_message(scene_type=scene_type, **annotation_span_counts(scene_type=scene_type))
    if message:
        raise NotEnoughAnnotations(message)
    usable = annotation_span_counts(scene_type=scene_type, embedded_only=True)
    message = not_enough_message(scene_type=scene_type, what="usable", **usable)
    if message:
        raise NotEnoughAnnotations(
            message.replace("Label ", "Some labelled movies have no stored embeddings yet: wait until their analysis "
                            "is finished, or label ", 1)
        )
    try:
        with transaction.atomic():
            run = TrainingRunner.request(subject_id=scene_type.pk, requested_by=requested_by, enqueue=queue)
            return TrainingRun.objects.create(run=run, scene_type=scene_type)
    except AlreadyActive as exc:
        raise TrainingAlreadyActive(
            f"A training of {scene_type.name} is already queued or running; wait for it to finish.", run=exc.run
        ) from exc


def training_run(*, run_id: int, epochs: int | None = None, seed: int = 0) -> TrainingRun:
    """One attempt of the training run `run_id` (a TrainingRun id) in this process; returns the row as it ends.

    A failure that another attempt cannot fix ends the run as `failed` with a sentence in `error` (and its
    ModelVersion as `failed`); an unexpected one is retried up to the job runner's cap.
    """
    training = TrainingRun.objects.get(pk=run_id)
    TrainingRunner.execute(training.run_id, epochs=epochs, seed=seed)
    return TrainingRun.objects.select_related("run", "model_version").get(pk=run_id)


def _plain(value):
    """JSON-ready copy: NumPy scalars and arrays become Python numbers and lists."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value


def _version_name(scene_type: SceneType) -> str:
    n = ModelVersion.objects.filter(scene_type=scene_type).count() + 1
    return f"{scene_type.name} v{n}"


def _heldout_evaluation(
    *, model, data: TrainingSet, heldout_ids: set[int], scene_type: SceneType
) -> dict:
    """Per-second and segment-level measures of `model` on the held-out spans (and their movies)."""
    import detector

    mask = np.isin(data.groups, list(heldout_ids))
    probabilities = detector.score(data.features[mask], model)
    metrics = evaluation.per_second_metrics(labels=data.labels[mask], probabilities=probabilities, cut=scene_type.cut)
    metrics["n_heldout_seconds"] = metrics.pop("n_seconds")

    per_movie = []
    heldout = [s for s in data.spans if s.annotation_id in heldout_ids]
    movie_ids = sorted({s.movie_id for s in heldout})
    embeddings = {
        e.movie_id: e
        for e in trainable_embeddings().filter(movie_id__in=movie_ids, backbone_set=data.backbone_set)
    }
    for movie_id in movie_ids:
        movie_probabilities = detector.score(np.asarray(features_load(embeddings[movie_id]), np.float32), model)
        segments = detector.aggregate_probabilities(
            movie_probabilities, cut=scene_type.cut, min_frames=scene_type.min_frames, threshold=scene_type.threshold
        )
        spans = [s for s in heldout if s.movie_id == movie_id]
        per_movie.append(
            evaluation.segment_metrics(
                detected=[(seg.start_s, seg.end_s) for seg in segments],
                positives=[(s.start_s, s.end_s) for s in spans if s.label == 1],
                labelled=[(s.start_s, s.end_s) for s in spans],
            )
        )
    metrics.update(evaluation.segment_metrics_total(per_movie))
    metrics["n_heldout_spans"] = len(heldout)
    metrics["n_heldout_movies"] = len(movie_ids)
    return metrics


def _model_path(scene_type: SceneType, version: ModelVersion) -> tuple[Path, str]:
    relative = f"models/{scene_type.slug}-{version.pk}-{secrets.token_hex(4)}.safetensors"
    path = Path(settings.MEDIA_ROOT) / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    return path, relative


def epochs_for(n_seconds: int, *, minimum: int = 10) -> int:
    steps_per_epoch = max(1, -(-n_seconds // BATCH_SIZE))
    return min(MAX_EPOCHS, max(minimum, -(-MIN_OPTIMISER_STEPS // steps_per_epoch)))


def _train(runner: TrainingRunner, run: TrainingRun, *, epochs: int | None, seed: int) -> None:
    import detector

    scene_type = run.scene_type
    timings: dict[str, float] = {}

    started = time.perf_counter()
    data = training_set_gather(scene_type=scene_type, progress=runner.gathering_callback(0.0, 0.1))
    train_ids, heldout_ids = spans_split(data.spans, seed=seed)
    timings["gather"] = time.perf_counter() - started
    TrainingRun.objects.filter(pk=run.pk).update(
        n_spans=len(data.spans), n_movies=data.n_movies, n_seconds=int(data.labels.size)
    )

    if run.model_version_id:  # a redelivered run (its worker died) carries on with its own version
        version = run.model_version
        ModelVersion.objects.filter(pk=version.pk).update(
            backbone_set=data.backbone_set, backbone_digest=standard_digest(data.backbone_set),
            status=ModelVersionStatus.TRAINING, error="",
        )
    else:
        version = ModelVersion.objects.create(
            scene_type=scene_type,
            name=_version_name(scene_type),
            backbone_set=data.backbone_set,
            backbone_digest=standard_digest(data.backbone_set),
            status=ModelVersionStatus.TRAINING,
            created_by=runner.run.requested_by,
        )
    TrainingRun.objects.filter(pk=run.pk).update(model_version=version)
    run.model_version = version
    runner.report_with_eta("training", 0.1, force=True)

    started = time.perf_counter()
    train_mask = np.isin(data.groups, list(train_ids))
    epochs = epochs or epochs_for(int(train_mask.sum()))
    model, head_metrics = detector.train_head(
        data.features[train_mask],
        data.labels[train_mask],
        data.groups[train_mask],
        backbone_set=data.backbone_set,
        scene_type=scene_type.slug,
        epochs=epochs,
        batch_size=BATCH_SIZE,
        seed=seed,
        progress=runner.training_callback(0.1, 0.85),
    )
    timings["train"] = time.perf_counter() - started

    runner.report_with_eta("evaluating", 0.85, force=True)
    started = time.perf_counter()
    metrics = _heldout_evaluation(model=model, data=data, heldout_ids=heldout_ids, scene_type=scene_type)
    timings["evaluate"] = time.perf_counter() - started
    metrics.update(
        n_spans=len(data.spans),
        n_movies=data.n_movies,
        n_seconds=int(data.labels.size),
        n_positive_spans=sum(1 for s in data.spans if s.label == 1),
        n_negative_spans=sum(1 for s in data.spans if s.label == 0),
        n_train_spans=len(train_ids),
        # The head's own split (validation picks the epoch); its per-span table goes only into the card.
        head=_plain({k: v for k, v in head_metrics.items() if k != "per_group"}),
    )

    runner.report_with_eta("saving", 0.95, force=True)
    started = time.perf_counter()
    metrics = _plain(metrics)
    model.card["metrics"] = metrics
    model.card["backbone_digest"] = standard_digest(data.backbone_set)
    model.card["training"] = {
        **(model.card.get("training") or {}),
        "source": "kissweb annotations",
        "training_run": run.pk,
        "run": runner.run.pk,
        "split": "by span, per label: 80% train (the head splits those again for early stopping), 20% held out",
        "heldout_annotation_ids": sorted(heldout_ids),
        "skipped": data.skipped,
        "head_per_span": _plain(head_metrics.get("per_group", [])),
        "epochs": epochs,
        "seed": seed,
        "aggregation": {"cut": scene_type.cut, "min_frames": scene_type.min_frames, "threshold": scene_type.threshold},
    }
    path, relative = _model_path(scene_type, version)
    detector.save_model(model, path)
    _check_loads_back(model, path)
    timings["save"] = time.perf_counter() - started

    with transaction.atomic():
        ModelVersion.objects.filter(pk=version.pk).update(
            weights=relative, card=_plain(model.card), metrics=metrics, status=ModelVersionStatus.READY, error=""
        )
        TrainingRun.objects.filter(pk=run.pk).update(timings_s={k: round(v, 4) for k, v in timings.items()})
        # Only an attempt still holding its run: otherwise nothing of this transaction is kept.
        runner.succeed()


def _check_loads_back(model, path: Path) -> None:
    """Load the saved file as activation and analysis will, and compare: a file nobody can load is no success."""
    import detector

    def remove() -> None:
        path.unlink(missing_ok=True)
        path.with_name(path.stem + ".card.json").unlink(missing_ok=True)

    try:
        loaded = detector.load_model(path)
        same = np.array_equal(np.asarray(loaded.weight), np.asarray(model.weight)) and np.array_equal(
            np.asarray(loaded.bias), np.asarray(model.bias)
        )
    except (detector.ModelFileError, ValueError, OSError) as exc:
        remove()
        raise ModelNotReadable(
            f"The trained model was saved but cannot be loaded back ({type(exc).__name__}: "
            f"{str(exc).replace(str(path), 'the model file')}), so it was not offered as ready. Train again; if it "
            "happens again, the worker's log has the details."
        ) from exc
    if not same:
        remove()
        raise ModelNotReadable(
            "The trained model was saved but the file reads back different weights, so it was not offered as ready. "
            "Check the disk of the media folder, then train again."
        )


# --- cross-validated quality -------------------------------------------------------------------------------------

QUALITY_FOLDS = 5


class QualityRunner(SceneTypeRunner):
    """Cross-validate the scene type's current labels and store the figure the scene type page shows."""

    kind = "quality_estimate"
    title = "Measuring the cross-validated quality"
    max_attempts = 2
    give_up_hint = "Open the scene type page again to measure once more; the worker's log has the details."

    def first_stage(self) -> str:
        return "cross-validating over your movies"

    def work(self) -> None:
        quality_estimate_compute(scene_type=SceneType.objects.get(pk=self.run.subject_id))

    def failure(self, exc: Exception) -> Failure | None:
        import detector

        if isinstance(exc, (NotEnoughAnnotations, detector.DetectorError)):
            return Failure(str(exc))
        return None


def quality_estimate_request(*, scene_type: SceneType, user=None) -> Run:
    """Queue a cross-validation of the scene type's current labels (the run already queued or running, if any)."""
    permissions.require_if_person(user=user, action=permissions.TRAIN, subject=scene_type)
    try:
        return QualityRunner.request(subject_id=scene_type.pk, requested_by=user)
    except AlreadyActive as exc:
        return exc.run


def quality_estimate_compute(*, scene_type: SceneType) -> QualityEstimate:
    """Cross-validate the default training recipe on every labelled second of the scene type, k-fold over movies
    (a movie's seconds never sit on both sides), and store the figure with what it rests on.

    Raises NotEnoughAnnotations (a sentence saying what to label) when there is nothing to measure yet.
    """
    import detector

    from kissweb.training.selectors import labels_fingerprint

    fingerprint = labels_fingerprint(scene_type=scene_type)
    started = time.perf_counter()
    data = training_set_gather(scene_type=scene_type)
    movie_of_span = {span.annotation_id: span.movie_id for span in data.spans}
    movies = np.array([movie_of_span[int(span_id)] for span_id in data.groups], dtype=np.int64)
    try:
        result = detector.cross_validate(
            data.features, data.labels, movies, backbone_set=data.backbone_set, k=QUALITY_FOLDS,
            runs=data.groups, scene_type=scene_type.slug, image_dim=detector.BACKBONE_DIMS[data.backbone_set][0],
        )
    except detector.DetectorError as exc:
        raise NotEnoughAnnotations(str(exc)) from exc
    summary = _plain(result.to_json())
    return QualityEstimate.objects.create(
        scene_type=scene_type,
        labels_fingerprint=fingerprint,
        backbone_set=data.backbone_set,
        n_seconds=summary["n_seconds"],
        n_scene_seconds=summary["n_scene_seconds"],
        n_movies=summary["n_groups"],
        n_scene_movies=summary["n_scene_groups"],
        n_folds=summary["n_folds"],
        enough=summary["enough"],
        metrics={key: summary[key] for key in (
            "f1", "precision", "recall", "accuracy", "confusion", "cut", "false_alarms_per_10_min"
        )},
        warnings=summary["warnings"] + data.skipped,
        duration_s=round(time.perf_counter() - started, 3),
    )
