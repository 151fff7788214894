"""Reads of the analysis pipeline: analyses, scores, model versions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from django.db.models import Count, Exists, OuterRef, QuerySet, Sum

from kissweb import errors
from kissweb.analysis import storage
from kissweb.analysis.backbones import key_of_version
from kissweb.analysis.models import ACTIVE_ANALYSIS_STATUSES, Analysis, ModelVersion, MovieEmbedding, ScoreTrack
from kissweb.library.models import Movie, SceneType


class ScoresUnavailable(Exception):
    """No per-second scores to show; str() says why and what to do (the API answers 404)."""


@dataclass
class MovieScores:
    window_s: float
    scores: list[float]
    model_version_id: int
    model_is_active: bool


def embedding_features(*, embedding: MovieEmbedding) -> np.ndarray:
    """The (n_windows, image_dim + audio_dim) float32 matrix of one stored embedding (ValueError when the file does
    not match its row)."""
    return storage.embedding_features(embedding)


def analysis_list_all() -> QuerySet[Analysis]:
    return Analysis.objects.select_related("run").prefetch_related("model_versions").order_by("-id")


def analysis_list(*, movie: Movie) -> QuerySet[Analysis]:
    return analysis_list_all().filter(movie=movie)


def analysis_get(*, analysis_id: int) -> Analysis:
    analysis = analysis_list_all().filter(pk=analysis_id).first()
    if analysis is None:
        raise errors.NotFound(
            f"There is no analysis {analysis_id}; it was deleted with its movie, or never existed.",
        )
    return analysis


def analysis_latest(*, movie: Movie) -> Analysis | None:
    return analysis_list(movie=movie).first()


def active_model_versions() -> dict[int, ModelVersion]:
    """Scene type id -> its active ModelVersion (scene types without a model are absent)."""
    return {v.scene_type_id: v for v in ModelVersion.objects.filter(is_active=True).select_related("scene_type")}


def model_version_get(*, model_id: int) -> ModelVersion:
    version = ModelVersion.objects.select_related("scene_type").filter(pk=model_id).first()
    if version is None:
        raise errors.NotFound(
            f"There is no model version {model_id}; it was deleted, or never existed."
        )
    return version


def scene_type_has_model(*, scene_type: SceneType) -> bool:
    return ModelVersion.objects.filter(scene_type=scene_type, is_active=True).exists()


def scene_type_slugs_with_model() -> set[str]:
    """Slugs of the scene types that have an active model (for `has_model` in serializers: one query)."""
    return set(ModelVersion.objects.filter(is_active=True).values_list("scene_type__slug", flat=True))


def movie_scores(*, movie: Movie, scene_type: SceneType) -> MovieScores:
    """One probability per second from the active model (or, while a re-score is pending, the newest model)."""
    active = ModelVersion.objects.filter(scene_type=scene_type, is_active=True).first()
    if active is None:
        raise ScoresUnavailable(
            f"No model for '{scene_type.slug}' yet, so there are no scores to show (this does not mean there are no "
            "such scenes). Train a model or activate a model file; the movie's embeddings are kept, so scores "
            "appear without decoding the video again."
        )
    track = ScoreTrack.objects.filter(movie=movie, model_version=active).first()
    if track is None:
        track = ScoreTrack.objects.filter(movie=movie, scene_type=scene_type).order_by("-created_at", "-id").first()
    if track is None:
        raise ScoresUnavailable(
            f"'{movie.title}' has no '{scene_type.slug}' scores yet (status: {movie.status}); they appear when its "
            "analysis finishes."
        )
    scores = ScoreTrack.decode(track.scores)
    return MovieScores(
        window_s=1.0,
        scores=scores.astype(np.float64).tolist(),  # the stored float32 values exactly: the browser re-aggregates them
        model_version_id=track.model_version_id,
        model_is_active=track.model_version_id == active.pk,
    )


def model_version_list(*, scene_type_slug: str | None = None) -> QuerySet[ModelVersion]:
    versions = ModelVersion.objects.select_related("scene_type").order_by("-created_at", "-id")
    if scene_type_slug:
        versions = versions.filter(scene_type__slug=scene_type_slug)
    return versions


def model_version_activation_cost(*, model_version: ModelVersion) -> dict:
    """What activating the model would do to the library: films re-scored from stored embeddings, and films (and
    hours of video) that must be decoded once because they have no embeddings of the backbones the model needs."""
    key = key_of_version(model_version)
    analysed = Movie.objects.filter(Exists(MovieEmbedding.objects.filter(movie=OuterRef("pk"))))
    has_key = Exists(
        MovieEmbedding.objects.filter(
            movie=OuterRef("pk"), backbone_set=key.backbone_set, backbone_digest=key.digest
        )
    )
    busy = Exists(Analysis.objects.filter(movie=OuterRef("pk"), run__status__in=ACTIVE_ANALYSIS_STATUSES))
    decode = analysed.filter(~has_key).aggregate(films=Count("pk"), seconds=Sum("duration_s"))
    stored = analysed.filter(has_key).count()
    films = analysed.count()
    seconds = float(decode["seconds"] or 0.0)
    hours = seconds / 3600
    if decode["films"]:
        message = (
            f"Activating '{model_version.name}' decodes {decode['films']} film(s) once ({hours:.1f} h of video) "
            f"for the {key.backbone_set} backbones"
        )
        message += f" and re-scores {stored} more from stored embeddings." if stored else "."
    else:
        message = (
            f"Activating '{model_version.name}' re-scores {films} film(s) from stored embeddings; no video is decoded."
        )
    return {
        "model_version": model_version.pk,
        "backbone_set": key.backbone_set,
        "backbone_digest": key.digest,
        "films": films,
        "rescore_from_stored": stored,
        "decode_films": int(decode["films"] or 0),
        "decode_seconds": seconds,
        "decode_hours": round(hours, 2),
        "busy_films": analysed.filter(busy).count(),
        "message": message,
    }
