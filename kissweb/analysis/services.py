"""Writes of the analysis pipeline: queueing, running and re-scoring analyses, registering and activating models."""

from __future__ import annotations

import logging
import os
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from kissweb.analysis import conf
from kissweb.analysis.backbones import BackboneKey, BackbonesUnknown, key_of_card, key_of_version
from kissweb.analysis.segments import detected_segments_replace
from kissweb.library.models import (
    Analysis,
    AnalysisKind,
    AnalysisStatus,
    BackboneSet,
    ModelVersion,
    ModelVersionStatus,
    Movie,
    MovieEmbedding,
    MovieStatus,
    SceneType,
    ScoreTrack,
)

log = logging.getLogger(__name__)

ANALYZE_TASK = "kissweb.analysis.tasks.analysis_task"
SWEEP_TASK = "kissweb.analysis.tasks.analysis_sweep_task"
SWEEPER_SCHEDULE_NAME = "kissweb: re-queue or fail stalled analyses"


PUBLISHED_MODEL_NAME = "Published model (Ziai 2019)"


class AnalysisAlreadyActive(Exception):
    """A queued or running analysis exists for this movie (the API answers 409)."""


def analysis_enqueue(*, analysis_id: int, duration_s: float) -> str:
    """Put the analysis on the task queue with a time limit that fits the movie's length."""
    from django_q.tasks import async_task

    task_id = async_task(
        ANALYZE_TASK,
        analysis_id,
        task_name=f"analysis-{analysis_id}",
        timeout=conf.analysis_timeout_s(duration_s=duration_s),
    )
    Analysis.objects.filter(pk=analysis_id).update(task_id=task_id or "")
    return task_id


def analysis_request(*, movie: Movie, kind: str = AnalysisKind.ANALYZE, stage: str = "") -> Analysis:
    """Create a queued Analysis and enqueue it once the surrounding transaction commits.

    A rolled-back transaction queues nothing. The database's one-active-analysis rule makes a second
    concurrent request fail with AnalysisAlreadyActive.
    """
    try:
        with transaction.atomic():
            analysis = Analysis.objects.create(movie=movie, kind=kind, stage=stage)
    except IntegrityError as exc:
        raise AnalysisAlreadyActive(
            f"'{movie.title}' is already being analysed; wait for that run to finish before starting another."
        ) from exc
    Movie.objects.filter(pk=movie.pk).update(status=MovieStatus.QUEUED, progress=0.0, eta_s=None, error="")
    duration_s = movie.duration_s
    transaction.on_commit(lambda: analysis_enqueue(analysis_id=analysis.pk, duration_s=duration_s))
    return analysis


def analysis_run(*, analysis_id: int) -> str:
    """One attempt of the pipeline on the analysis's movie (the worker's task)."""
    from kissweb.analysis.pipeline import analysis_run as run

    return run(analysis_id=analysis_id)


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


def _published_pickle_import(spooled: Path, *, scene_type: SceneType, download: dict | None) -> Path:
    """The published model.pkl converted by the detector's restricted unpickler (no code in it runs) into one
    self-contained model file next to it; ValidationError saying why when it is not that model."""
    import detector
    from detector.reference import import_reference_file

    converted = spooled.with_name(spooled.stem + "-converted.safetensors")
    try:
        extra = {"download": download} if download else {}
        return import_reference_file(spooled, converted, scene_type=scene_type.slug, **extra)
    except detector.ModelFileError as exc:
        message = str(exc).replace(str(spooled), "The uploaded file")
        raise ValidationError({"file": f"This is not a usable model file, nor the published model.pkl: {message}"}) from exc


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
            raise ValidationError({"file": f"This is not a usable model file: {message}"}) from exc
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
    load, or one made for another scene type, is refused with a ValidationError saying why; nothing is stored then.
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
            raise ValidationError(
                {
                    "file": f"This model was trained for the scene type '{card.get('scene_type')}', not "
                    f"'{scene_type.slug}'; upload it to that scene type instead."
                }
            )
        try:
            key = key_of_card(card)
        except BackbonesUnknown as exc:
            raise ValidationError({"file": str(exc)}) from exc
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
        raise ValidationError(
            {"detail": f"Model '{version.name}' is {version.status}, not ready; only a ready model can be active."}
        )
    channel_order = (version.card or {}).get("channel_order", "RGB")
    if channel_order != "RGB" and version.backbone_set != BackboneSet.PUBLISHED:
        # Standard-set embeddings are RGB; a head trained on other input would score them wrongly without any sign.
        raise ValidationError(
            {
                "detail": f"Model '{version.name}' expects {channel_order} frames but names the {version.backbone_set} "
                "backbones, whose stored embeddings are RGB, so its scores here would be wrong. It was imported by an "
                "older version: import the published model.pkl again (it then carries its own backbones and is fed "
                "BGR frames), or train a model in the app from your own annotations."
            }
        )


def model_version_activate(*, model_version: ModelVersion) -> RescorePlan:
    """Make model_version the active model of its scene type (one transaction) and queue the library re-score."""
    with transaction.atomic():
        SceneType.objects.select_for_update().get(pk=model_version.scene_type_id)  # one activation at a time
        version = ModelVersion.objects.select_for_update().get(pk=model_version.pk)
        _check_activatable(version)
        ModelVersion.objects.filter(scene_type_id=version.scene_type_id, is_active=True).exclude(
            pk=version.pk
        ).update(is_active=False)
        ModelVersion.objects.filter(pk=version.pk).update(is_active=True)
        plan = library_rescore_request(key=key_of_version(version))
    model_version.refresh_from_db()
    return plan


# --- aggregation settings ------------------------------------------------------------------------------------


def scene_type_settings_changed(*, scene_type: SceneType) -> dict[int, dict]:
    """Re-derive every movie's detected segments of scene_type from its stored scores with the new settings.

    No scoring, no decoding: the active model's ScoreTracks are aggregated again. Returns the changes per movie id.
    """
    import detector

    scene_type = SceneType.objects.get(pk=scene_type.pk)
    active = ModelVersion.objects.filter(scene_type=scene_type, is_active=True).first()
    if active is None:
        return {}
    changes: dict[int, dict] = {}
    tracks = ScoreTrack.objects.filter(scene_type=scene_type, model_version=active).select_related("analysis")
    for track in tracks.iterator(chunk_size=200):
        with transaction.atomic():
            movie = Movie.objects.select_for_update().filter(pk=track.movie_id).first()
            analysis = track.analysis
            if movie is None or analysis is None:
                continue
            probabilities = ScoreTrack.decode(track.scores)
            found = detector.aggregate_probabilities(
                probabilities, cut=scene_type.cut, min_frames=scene_type.min_frames, threshold=scene_type.threshold
            )
            changes[movie.pk] = detected_segments_replace(
                movie=movie, scene_type=scene_type, analysis=analysis, model_version=active, found=found
            )
    return changes


# --- the sweeper ---------------------------------------------------------------------------------------------


def analysis_sweep() -> dict:
    """Re-queue (or, after the last attempt, fail) analyses whose worker stopped reporting; requeue lost tasks.

    Runs as a django-q2 schedule every minute. A running analysis whose heartbeat is older than
    KISSWEB_ANALYSIS_STALE_S is presumed dead. With the ORM broker, a queued analysis that has no task left in
    the queue (lost between commit and enqueue) is queued again.
    """
    now = timezone.now()
    stale_before = now - timedelta(seconds=conf.stale_after_s())
    requeued, failed, lost = [], [], []
    stale = Analysis.objects.filter(status=AnalysisStatus.RUNNING, heartbeat_at__lt=stale_before)
    for analysis_id in stale.values_list("pk", flat=True):
        with transaction.atomic():
            analysis = (
                Analysis.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(pk=analysis_id, status=AnalysisStatus.RUNNING, heartbeat_at__lt=stale_before)
                .select_related("movie")
                .first()
            )
            if analysis is None:
                continue
            age = int((now - analysis.heartbeat_at).total_seconds())
            if analysis.attempts >= conf.MAX_ATTEMPTS:
                reason = (
                    f"Analysis gave up after {analysis.attempts} attempts: the worker stopped reporting progress "
                    f"{age} s ago (killed, out of memory, or the machine restarted). Check the worker's log, then "
                    "press Analyse to try again."
                )
                Analysis.objects.filter(pk=analysis.pk).update(
                    status=AnalysisStatus.FAILED, error=reason, finished_at=now, stage="failed", eta_s=None
                )
                Movie.objects.filter(pk=analysis.movie_id).update(status=MovieStatus.FAILED, error=reason, eta_s=None)
                failed.append(analysis.pk)
                continue
            Analysis.objects.filter(pk=analysis.pk).update(
                status=AnalysisStatus.QUEUED,
                stage="re-queued: the worker stopped responding",
                error=f"Attempt {analysis.attempts} of {conf.MAX_ATTEMPTS} stopped reporting progress {age} s ago; "
                "queued again.",
                heartbeat_at=now,
                eta_s=None,
            )
            Movie.objects.filter(pk=analysis.movie_id).update(status=MovieStatus.QUEUED, eta_s=None)
            duration_s = analysis.movie.duration_s
            transaction.on_commit(
                lambda pk=analysis.pk, d=duration_s: analysis_enqueue(analysis_id=pk, duration_s=d)
            )
            requeued.append(analysis.pk)
    if "orm" in settings.Q_CLUSTER:
        lost = _requeue_lost(stale_before=stale_before)
    if requeued or failed or lost:
        log.warning("sweeper: re-queued %s, failed %s, lost tasks queued again %s", requeued, failed, lost)
    return {"requeued": requeued, "failed": failed, "lost": lost}


def _requeue_lost(*, stale_before) -> list[int]:
    from django_q.models import OrmQ

    untouched = Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=stale_before)
    waiting = list(
        Analysis.objects.filter(untouched, status=AnalysisStatus.QUEUED, queued_at__lt=stale_before).values_list(
            "pk", "movie__duration_s"
        )
    )
    if not waiting:
        return []
    in_queue = {task.name() for task in OrmQ.objects.all()}
    lost = []
    for pk, duration_s in waiting:
        if f"analysis-{pk}" not in in_queue:
            Analysis.objects.filter(pk=pk).update(heartbeat_at=timezone.now())
            analysis_enqueue(analysis_id=pk, duration_s=duration_s)
            lost.append(pk)
    return lost


def sweeper_schedule_ensure() -> None:
    """Create or update the sweeper's django-q2 schedule (idempotent; called after every migrate)."""
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name=SWEEPER_SCHEDULE_NAME,
        defaults={
            "func": SWEEP_TASK,
            "schedule_type": Schedule.MINUTES,
            "minutes": conf.sweep_every_minutes(),
            "repeats": -1,
        },
    )
