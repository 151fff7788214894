"""Model files: the one home of everything that brings a scene model into the app and puts it to work.

- upload: `model_version_create` (a .safetensors model file, or the published model.pkl converted safely);
- the published pickle: `published_pickle_import`, the one wrapper of detector.reference.import_reference_file;
- the reference import: `reference_import` (model.pkl only);
- fetch: `PublishedModelFetchRunner` / `published_model_fetch_request` (download model.pkl, import it, register it);
- download: `model_file_open`;
- activate: `model_version_activate` (and the library re-score it queues).
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import OperationalError, transaction

from kissweb import errors, permissions
from kissweb.analysis.backbones import BackboneKey, BackbonesUnknown, carries_backbones, key_of_card, key_of_version
from kissweb.analysis.models import AnalysisKind, ModelVersion, ModelVersionStatus, MovieEmbedding
from kissweb.analysis.pipeline import AnalysisAlreadyActive, AnalysisRunner
from kissweb.jobs.models import Run
from kissweb.jobs.runner import AlreadyActive, Failure
from kissweb.library.models import Movie, SceneType
from kissweb.library.scene_type_runs import SceneTypeRunner

log = logging.getLogger(__name__)

PUBLISHED_MODEL_NAME = "Published model (Ziai 2019)"


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


def published_pickle_import(
    pickle_path: Path, *, scene_type: SceneType, download: dict | None = None,
    refusal: str = "This is not a usable model file, nor the published model.pkl",
) -> Path:
    """The published model.pkl converted by the detector's restricted unpickler (no code in it runs) into one
    self-contained model file next to it (remove it with `converted_remove`); errors.Invalid starting with `refusal`
    and saying why when it is not that model. The one wrapper of detector.reference.import_reference_file."""
    import detector
    from detector.reference import import_reference_file

    converted = pickle_path.with_name(pickle_path.stem + "-converted.safetensors")
    try:
        extra = {"download": download} if download else {}
        return import_reference_file(pickle_path, converted, scene_type=scene_type.slug, **extra)
    except detector.ModelFileError as exc:
        message = str(exc).replace(str(pickle_path), "The uploaded file")
        raise _bad_file(f"{refusal}: {message}") from exc


def converted_remove(converted: Path) -> None:
    """Remove a converted model file and what the detector writes beside it (its card, its own backbones)."""
    converted.unlink(missing_ok=True)
    converted.with_name(converted.stem + ".card.json").unlink(missing_ok=True)
    converted.with_name(converted.stem + ".backbones.safetensors").unlink(missing_ok=True)


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
    converted = published_pickle_import(spooled, scene_type=scene_type, download=download)
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
    permissions.require_if_person(user=user, action=permissions.CREATE, subject="model")
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
            converted_remove(converted)


def _default_model_name(file, card: dict) -> str:
    if (card.get("training") or {}).get("source", "").startswith("reference model.pkl"):
        return PUBLISHED_MODEL_NAME
    filename = _file_name(file)
    stem = filename.removesuffix(".safetensors") if filename else ""
    return (stem or f"{card.get('scene_type')} {card.get('created', '')}".strip())[:200]


def reference_import(*, scene_type: SceneType, file, user=None) -> ModelVersion:
    """Convert the published project's model.pkl (an uploaded file) safely and register it as an inactive version.

    The pickle is read by detector.reference's restricted unpickler (no code in it runs). A file that is not the
    published model, or asks to run code, is refused with errors.Invalid saying why; nothing is stored then.
    """
    permissions.require_if_person(user=user, action=permissions.CREATE, subject="model")
    spooled = _spool(file, folder=Path(settings.MEDIA_ROOT) / "models")
    try:
        converted = published_pickle_import(
            spooled, scene_type=scene_type, refusal="This is not the published model.pkl"
        )
        try:
            return model_version_create(scene_type=scene_type, file=converted, name=PUBLISHED_MODEL_NAME, user=user)
        finally:
            converted_remove(converted)
    finally:
        spooled.unlink(missing_ok=True)


def model_file_open(*, model_version: ModelVersion):
    """(an open binary handle, the file name to offer) of a model version's file; errors.NotFound saying why."""
    if not model_version.weights:
        raise errors.NotFound(
            f"Model version {model_version.pk} has no file yet (status {model_version.status})."
        )
    try:
        handle = model_version.weights.open("rb")
    except FileNotFoundError as exc:
        raise errors.NotFound(f"The file of model version {model_version.pk} is missing from the media folder.") from exc
    return handle, f"{model_version.scene_type.slug}-model-{model_version.pk}.safetensors"


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
                plan.rescore.append(AnalysisRunner.analysis_request(movie=movie, kind=AnalysisKind.RESCORE).pk)
            else:
                analysis = AnalysisRunner.analysis_request(
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


def model_version_activate(*, model_version: ModelVersion, user=None) -> RescorePlan:
    """Make model_version the active model of its scene type (one transaction) and queue the library re-score.

    The scene type and model are locked FOR NO KEY UPDATE: that serialises activations without blocking the foreign
    key checks (FOR KEY SHARE) of a worker that is writing a film's scores and segments while holding the film, which
    this transaction must update too (a deadlock, 500s under parallel activations). Should Postgres still pick this
    transaction as a deadlock victim, it is tried again; inside a caller's transaction it cannot be.
    """
    permissions.require_if_person(user=user, action=permissions.ACTIVATE, subject=model_version)
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


# --- the published model: fetch ------------------------------------------------------------------------

PUBLISHED_SCENE_TYPE = "kissing"
DOWNLOADS_DIR = "downloads/published"  # under MEDIA_ROOT: an interrupted download resumes from here
# Shares of the progress bar per stage of detector.fetch_published_model, then registering the version.
STAGES = {
    "download": ((0.0, 0.85), "downloading model.pkl"),
    "checksum": ((0.85, 0.9), "checking its SHA-256"),
    "import": ((0.9, 0.97), "importing it safely (no code in it runs)"),
}


class NotThePublishedSceneType(errors.Invalid):
    """The published model detects kissing; it belongs to no other scene type (400)."""

    default_code = "not_the_published_scene_type"


class PublishedModelFetchRunner(SceneTypeRunner):
    kind = "published_model_fetch"
    title = "Getting the published model"
    max_attempts = 2
    give_up_hint = "Press “Get the published kissing model” to try again, or upload model.pkl by hand."

    @classmethod
    def already_active_message(cls, subject_id: int) -> str:  # noqa: ARG003
        return "The published model is already being fetched; wait for that run to finish."

    @classmethod
    def timeout_s(cls, *, subject_id: int) -> int:  # noqa: ARG003
        return 2 * 3600  # about 340 MB over a slow line, resumed

    def first_stage(self) -> str:
        return STAGES["download"][1]

    def work(self) -> None:
        import detector
        from detector.head import card_path

        scene_type = SceneType.objects.get(pk=self.run.subject_id)
        started = time.monotonic()

        def progress(stage: str, done: int, total: int) -> None:
            (low, high), words = STAGES.get(stage, ((0.0, 0.97), stage))
            fraction = min(done / total, 1.0) if total else 0.0
            elapsed = time.monotonic() - started
            eta = elapsed / fraction * (1 - fraction) if stage == "download" and fraction > 0.01 else None
            self.report(progress=low + (high - low) * fraction, stage=words, eta_s=eta)

        folder = Path(settings.MEDIA_ROOT) / DOWNLOADS_DIR
        source = {"url": settings.KISSWEB_PUBLISHED_MODEL_URL} if settings.KISSWEB_PUBLISHED_MODEL_URL else {}
        written = detector.fetch_published_model(folder, scene_type=scene_type.slug, progress=progress, **source)
        try:
            source_sha256 = detector.load_model(written).card["training"]["source_sha256"]
            listed = ModelVersion.objects.filter(scene_type=scene_type, card__training__source_sha256=source_sha256)
            if listed.exists():
                return  # the same model.pkl, fetched again: listed once
            self.report(progress=0.97, stage="registering the model version", force=True)
            model_version_create(
                scene_type=scene_type, file=written, name=PUBLISHED_MODEL_NAME, user=self.run.requested_by
            )
        finally:
            written.unlink(missing_ok=True)
            card_path(written).unlink(missing_ok=True)

    def failure(self, exc: Exception) -> Failure | None:
        import detector

        if isinstance(exc, detector.DownloadError):  # says how to download model.pkl by hand and upload it
            return Failure(str(exc).replace(str(Path(settings.MEDIA_ROOT) / DOWNLOADS_DIR), "the downloads folder"))
        if isinstance(exc, detector.ModelFileError):
            return Failure(f"The downloaded file is not the published model: {exc}")
        if isinstance(exc, ValidationError):
            return Failure(" ".join(exc.messages))
        return None


def published_model_fetch_request(*, scene_type: SceneType, user, enqueue: bool = True) -> Run:
    """Queue getting the published model for the kissing scene type (the one it detects); the run that is already
    queued or running when there is one. enqueue=False: the caller runs it (`PublishedModelFetchRunner.execute`)."""
    permissions.require_if_person(user=user, action=permissions.CREATE, subject="model")
    if scene_type.slug != PUBLISHED_SCENE_TYPE:
        raise NotThePublishedSceneType(
            f"The published model detects kissing; get it on the '{PUBLISHED_SCENE_TYPE}' scene type, not "
            f"'{scene_type.slug}'."
        )
    try:
        return PublishedModelFetchRunner.request(subject_id=scene_type.pk, requested_by=user, enqueue=enqueue)
    except AlreadyActive as exc:
        return exc.run

