"""Getting the published kissing model: a queued run that downloads model.pkl (`detector.fetch_published_model`:
the host's confirmation page, resume, SHA-256), imports it safely into one self-contained model file and registers it
as a model version of the scene type, with its card. Activating it stays a separate, confirmed step (it costs a
decoding pass per film)."""

from __future__ import annotations

import time
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError

from kissweb import errors
from kissweb.analysis.services import PUBLISHED_MODEL_NAME, model_version_create
from kissweb.jobs.models import Run
from kissweb.library.scene_type_runs import SceneTypeRunner
from kissweb.jobs.runner import AlreadyActive, Failure
from kissweb.analysis.models import ModelVersion
from kissweb.library.models import SceneType

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
    if scene_type.slug != PUBLISHED_SCENE_TYPE:
        raise NotThePublishedSceneType(
            f"The published model detects kissing; get it on the '{PUBLISHED_SCENE_TYPE}' scene type, not "
            f"'{scene_type.slug}'."
        )
    try:
        return PublishedModelFetchRunner.request(subject_id=scene_type.pk, requested_by=user, enqueue=enqueue)
    except AlreadyActive as exc:
        return exc.run

