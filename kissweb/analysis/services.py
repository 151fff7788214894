"""Writes of the analysis pipeline: queueing and re-scoring analyses, registering and activating models, re-deriving
scenes after a settings change. The work itself runs as Runners (pipeline.py, rederive.py) on kissweb.jobs."""

from __future__ import annotations

import logging
import os
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import OperationalError, transaction

from kissweb import errors
from kissweb.analysis.backbones import BackboneKey, BackbonesUnknown, carries_backbones, key_of_card, key_of_version
from kissweb.analysis.pipeline import AnalysisAlreadyActive, AnalysisRunner
from kissweb.analysis.pipeline import analysis_run as pipeline_analysis_run
from kissweb.analysis.rederive import RederiveRunner, scene_type_rederive
from kissweb.jobs.runner import AlreadyActive
from kissweb.jobs.sweeper import run_sweep
from kissweb.analysis.models import (
    Analysis,
    AnalysisKind,
    ModelVersion,
    ModelVersionStatus,
    MovieEmbedding,
)
from kissweb.library.models import Movie, SceneType

log = logging.getLogger(__name__)

PUBLISHED_MODEL_NAME = "Published model (Ziai 2019)"

__all__ = ["AnalysisAlreadyActive", "analysis_request", "analysis_run", "analysis_sweep", "model_version_activate",
           "model_version_create", "scene_type_settings_changed"]


def analysis_request(
    *, movie: Movie, kind: str = AnalysisKind.ANALYZE, stage: str = "", requested_by=None
) -> Analysis:
    """Create a queued Analysis and hand its run to the broker once the surrounding transaction commits.

    A rolled-back transaction queues nothing. The database's one-active-run-per-movie rule makes a second
    concurrent request fail with AnalysisAlreadyActive.
    """
    if not movie.file:
        state = "its download failed" if movie.status == "failed" else "its download has not finished"
        raise errors.Conflict(f"'{movie.title}' has no video file yet ({state}), so there is nothing to analyse; "
                              "add the film again.", code="no_video_file")
    return AnalysisRunner.analysis_request(movie=movie, kind=kind, stage=stage, requested_by=requested_by)


def analysis_run(*, analysis_id: int) -> str:
    """One attempt of the pipeline on the analysis's movie, in this process (what the worker's task does)."""
    return pipeline_analysis_run(analysis_id=analysis_id)


def analysis_sweep() -> dict:
    """The job runner's sweeper (kissweb.jobs.sweeper.run_sweep), which covers analyses with every other run."""
    return run_sweep()


# --- models --------------------------------------------------------------------------------------------------


def _spool(file, *, folder: Path) -> Path:
    """Copy an uploaded file (or a path) into a private partial file in folder; the caller removes it."""
    folder.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(suffix=".partial", prefix="upload-", dir=folder)
    with os.fdopen(handle, "wb") as out:
        if isinstance(file, (str, Path)):
            with open(file, "rb") as source:
                while chunk := source.read(1 << 20):
                    out.write(chunk)
        else:
            for chunk in file.chunks():
                out.write(chunk)
    return Path(name)


PICKLE_MAGIC = (b"PK", b"\x80")  # torch.save's zip archive, or a plain pickle


def _bad_file(message: str) -> errors.Invalid:
    return errors.Invalid(message, code="bad_model_file", fields={"file": message})


def _published_pickle_import(spooled: Path, *, scene_type: SceneType, download: dict | None) -> Path:
    """The published model.pkl converted by the detector's restricted unpickler (no code in it runs) into one
    self-contained model file next to it; errors.Invalid saying why when it is not that model."""
    import detector
    from detector.reference import import_reference_file

    converted = spooled.with_name(spooled.stem + "-converted.safetensors")
    try:
        extra = {"download": download} if download else {}
        return import_reference_file(spooled, converted, scene_type=scene_type.slug, **extra)
    except detector.ModelFileError as exc:
        message = str(exc).replace(str(spooled), "The uploaded file")
        raise _bad_file(f"This is not a usable model file, nor the published model.pkl: {message}") from exc


def _model_load(spooled: Path, *, filename: str, scene_type: SceneType, download: dict | None):
    """(model file path, SceneModel) of an uploaded .safetensors model file or the published model.pkl."""
    import detector

    try:
        return spooled, detector.load_model(spooled)
    except detector.ModelFileError as exc:
        with spooled.open("rb") as handle:
            magic = handle.read(2)
        if not (filename.lower().endswith(".pkl") or magic.startswith(PICKLE_MAGIC)):
            message = str(exc).replace(str(spooled), "The uploaded file")
            raise _bad_file(f"This is not a usable model file: {message}") from exc
    converted = _published_pickle_import(spooled, scene_type=scene_type, download=download)
    try:
        return converted, detector.load_model(converted)
    except detector.ModelFileError as exc:  # the detector wrote it a moment ago: a broken install, not bad input
        raise RuntimeError(f"The converted published model cannot be read back: {exc}") from exc


def _file_name(file) -> str:
    return Path(str(file) if isinstance(file, (str, Path)) else (getattr(file, "name", "") or "")).name


def model_version_create(
    *, scene_type: SceneType, file, name: str = "", user=None, download: dict | None = None
) -> ModelVersion:
    """Register a detector model file as an inactive ModelVersion of scene_type.

    `file` is an uploaded file or a path: a .safetensors model file (head + card, and a published model's own
    backbones), or the published project's model.pkl, which is converted safely first. A file the detector cannot
    load, or one made for another scene type, is refused with a errors.Invalid saying why; nothing is stored then.
    `download` (URL, checksum, date) goes into a converted model.pkl's card.
    """
    models_dir = Path(settings.MEDIA_ROOT) / "models"
    spooled = _spool(file, folder=models_dir)
    converted: Path | None = None
    try:
        source, model = _model_load(spooled, filename=_file_name(file), scene_type=scene_type, download=download)
        converted = source if source != spooled else None
        card = model.card
        if card.get("scene_type") != scene_type.slug:
            raise _bad_file(
                f"This model was trained for the scene type '{card.get('scene_type')}', not "
                f"'{scene_type.slug}'; upload it to that scene type instead."
            )
        try:
            key = key_of_card(card)
        except BackbonesUnknown as exc:
            raise _bad_file(str(exc)) from exc
        stored_name = f"models/{scene_type.slug}-{uuid.uuid4().hex[:12]}.safetensors"
        target = Path(settings.MEDIA_ROOT) / stored_name
        try:
            with transaction.atomic():
                version = ModelVersion.objects.create(
                    scene_type=scene_type,
                    name=(name or "").strip()[:200] or _default_model_name(file, card),
                    backbone_set=key.backbone_set,
                    backbone_digest=key.digest,
                    weights=stored_name,
                    card=card,
                    metrics=card.get("metrics") or {},
                    status=ModelVersionStatus.READY,
                    created_by=user if getattr(user, "is_authenticated", False) else None,
                )
                os.replace(source, target)
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        return version
    finally:
        spooled.unlink(missing_ok=True)
        if converted is not None:
            converted.unlink(missing_ok=True)
            converted.with_name(converted.stem + ".card.json").unlink(missing_ok=True)
            converted.with_name(converted.stem + ".backbones.safetensors").unlink(missing_ok=True)


def _default_model_name(file, card: dict) -> str:
    if (card.get("training") or {}).get("source", "").startswith("reference model.pkl"):
        return PUBLISHED_MODEL_NAME
    filename = _file_name(file)
    stem = filename.removesuffix(".safetensors") if filename else ""
    return (stem or f"{card.get('scene_type')} {card.get('created', '')}".strip())[:200]


@dataclass
class RescorePlan:
    """What activating a model queued: re-scores from stored embeddings, re-scores that decode first, busy movies."""

    rescore: list[int] = field(default_factory=list)  # analysis ids
    re_embed: list[int] = field(default_factory=list)  # analysis ids
    busy_movies: list[int] = field(default_factory=list)  # already queued/running: they pick the model up

    def as_dict(self) -> dict:
        message = f"{len(self.rescore)} movie(s) will be re-scored from their stored embeddings"
        if self.re_embed:
            message += (
                f"; {len(self.re_embed)} movie(s) are decoded once first because they lack the backbones the model "
                "needs (re-embedded)"
            )
        if self.busy_movies:
            message += f"; {len(self.busy_movies)} movie(s) being analysed now will use the new model"
        return {
            "rescore": len(self.rescore),
            "re_embed": len(self.re_embed),
            "busy": len(self.busy_movies),
            "analysis_ids": self.rescore + self.re_embed,
            "message": message + ".",
        }


def library_rescore_request(*, key: BackboneKey) -> RescorePlan:
    """Queue a re-score of every analysed movie (those with stored embeddings) for a newly active model.

    Every run is a re-score: it reads the stored embeddings of `key` where they exist and decodes the film once
    for `key` where they do not, so the embeddings of other backbones stay for a later switch back.
    """
    plan = RescorePlan()
    movie_ids = MovieEmbedding.objects.values_list("movie_id", flat=True).distinct()
    having = set(
        MovieEmbedding.objects.filter(backbone_set=key.backbone_set, backbone_digest=key.digest).values_list(
            "movie_id", flat=True
        )
    )
    for movie in Movie.objects.filter(pk__in=movie_ids).order_by("pk"):
        try:
            if movie.pk in having:
                plan.rescore.append(analysis_request(movie=movie, kind=AnalysisKind.RESCORE).pk)
            else:
                analysis = analysis_request(
                    movie=movie, kind=AnalysisKind.RESCORE,
                    stage=f"re-embedding: model needs the {key.backbone_set} backbones",
                )
                plan.re_embed.append(analysis.pk)
        except AnalysisAlreadyActive:
            plan.busy_movies.append(movie.pk)
    return plan


def _check_activatable(version: ModelVersion) -> None:
    if version.status != ModelVersionStatus.READY:
        raise errors.Conflict(
            f"Model '{version.name}' is {version.status}, not ready; only a ready model can be active.",
            code="model_not_ready",
        )
    channel_order = (version.card or {}).get("channel_order", "RGB")
    if channel_order != "RGB" and not carries_backbones(version.backbone_set):
        # Standard-set embeddings are RGB; a head trained on other input would score them wrongly without any sign.
        raise errors.Unprocessable(
            f"Model '{version.name}' expects {channel_order} frames but names the {version.backbone_set} "
            "backbones, whose stored embeddings are RGB, so its scores here would be wrong. It was imported by an "
            "older version: import the published model.pkl again (it then carries its own backbones and is fed "
            "BGR frames), or train a model in the app from your own annotations.",
            code="wrong_channel_order",
        )


DEADLOCK_RETRIES = 3


def model_version_activate(*, model_version: ModelVersion) -> RescorePlan:
    """Make model_version the active model of its scene type (one transaction) and queue the library re-score.

    The scene type and model are locked FOR NO KEY UPDATE: that serialises activations without blocking the foreign
    key checks (FOR KEY SHARE) of a worker that is writing a film's scores and segments while holding the film, which
    this transaction must update too (a deadlock, 500s under parallel activations). Should Postgres still pick this
    transaction as a deadlock victim, it is tried again; inside a caller's transaction it cannot be.
    """
    for attempt in range(1, DEADLOCK_RETRIES + 1):
        try:
            return _model_version_activate_once(model_version=model_version)
        except OperationalError as exc:
            if not _is_deadlock(exc) or attempt == DEADLOCK_RETRIES or transaction.get_connection().in_atomic_block:
                raise
            log.warning("activating model %s met a deadlock (attempt %s); trying again", model_version.pk, attempt)
            time.sleep(0.05 * attempt)
    raise AssertionError("unreachable")


def _is_deadlock(exc: OperationalError) -> bool:
    return getattr(exc.__cause__, "sqlstate", None) == "40P01" or "deadlock detected" in str(exc)


def _model_version_activate_once(*, model_version: ModelVersion) -> RescorePlan:
    with transaction.atomic():
        SceneType.objects.select_for_update(no_key=True).get(pk=model_version.scene_type_id)  # one at a time
        version = ModelVersion.objects.select_for_update(no_key=True).get(pk=model_version.pk)
        _check_activatable(version)
        ModelVersion.objects.filter(scene_type_id=version.scene_type_id, is_active=True).exclude(
            pk=version.pk
        ).update(is_active=False)
        ModelVersion.objects.filter(pk=version.pk).update(is_active=True)
        plan = library_rescore_request(key=key_of_version(version))
    model_version.refresh_from_db()
    return plan


# --- aggregation settings ---------------------------------------------------------------------------------


def scene_type_settings_changed(*, scene_type: SceneType, requested_by=None, queue: bool = True) -> dict:
    """Re-derive every movie's detected segments of scene_type from its stored scores with the new settings.

    Queued as a run (its progress shows on the scene type page) once the surrounding transaction commits; a run
    already queued or running picks the newest settings up (it checks again before it ends). queue=False re-derives
    in this process and returns the changes per movie id.
    """
    if not queue:
        return scene_type_rederive(scene_type=scene_type)
    try:
        run = RederiveRunner.request(subject_id=scene_type.pk, requested_by=requested_by, stage="waiting for a worker")
    except AlreadyActive as exc:
        run = exc.run
    return {"run": run.pk if run else None}
