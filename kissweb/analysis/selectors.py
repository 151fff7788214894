"""Reads of the analysis pipeline: analyses, scores, model versions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from django.db.models import QuerySet

from kissweb.library.models import Analysis, ModelVersion, Movie, SceneType, ScoreTrack


class ScoresUnavailable(Exception):
    """No per-second scores to show; str() says why and what to do (the API answers 404)."""


@dataclass
class MovieScores:
    window_s: float
    scores: list[float]
    model_version_id: int
    model_is_active: bool


def analysis_list(*, movie: Movie) -> QuerySet[Analysis]:
    return Analysis.objects.filter(movie=movie).prefetch_related("model_versions").order_by("-queued_at", "-id")


def analysis_latest(*, movie: Movie) -> Analysis | None:
    return analysis_list(movie=movie).first()


def active_model_versions() -> dict[int, ModelVersion]:
    """Scene type id -> its active ModelVersion (scene types without a model are absent)."""
    return {v.scene_type_id: v for v in ModelVersion.objects.filter(is_active=True).select_related("scene_type")}


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
