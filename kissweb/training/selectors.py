"""Reads of training: runs, model versions side by side, what to label next, precision people observed."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from django.db.models import Count, Max, Q, Sum
from django.shortcuts import get_object_or_404
from django.urls import reverse

from kissweb.analysis.models import ModelVersion, ScoreTrack
from kissweb import errors
from kissweb.library.models import Annotation, AnnotationLabel, Movie, SceneType, Segment, SegmentSource
from kissweb.training.dataset import annotation_span_counts, spans_needed
from kissweb.jobs.models import ACTIVE_RUN_STATUSES, RunStatus
from kissweb.jobs.selectors import run_latest, run_progress
from kissweb.training.models import TrainingRun

UNSURE_MARGIN = 0.15  # a second is "unsure" when its score is within this of the cut
UNSURE_MIN_S = 2  # shorter unsure runs are noise
UNSURE_MERGE_GAP_S = 2
MAX_TRACKS_SCANNED = 500
HEADLINE_METRICS = (
    "precision", "recall", "f1", "accuracy", "confusion", "segment_precision", "segment_recall",
    "n_spans", "n_movies", "n_seconds", "n_heldout_spans",
)


def scene_type_page_get(*, slug: str) -> SceneType:
    """The scene type a page shows, or Django's 404 page (the API answers kissweb.library.selectors.scene_type_get's
    sentence instead)."""
    return get_object_or_404(SceneType, slug=slug)


def training_run_get(*, run_id: int) -> TrainingRun:
    training_run = TrainingRun.objects.select_related("scene_type", "model_version", "run").filter(pk=run_id).first()
    if training_run is None:
        raise errors.NotFound(f"There is no training run {run_id}; it was deleted with its scene type, or never existed.")
    return training_run


def training_run_list(*, scene_type: SceneType, limit: int = 20) -> list[TrainingRun]:
    return list(TrainingRun.objects.filter(scene_type=scene_type).select_related("model_version", "run")[:limit])


def training_run_active(*, scene_type: SceneType) -> TrainingRun | None:
    """The queued or running training of the scene type (a dead worker's run is queued again by the sweeper)."""
    return TrainingRun.objects.filter(scene_type=scene_type, run__status__in=ACTIVE_RUN_STATUSES).first()


def observed_precision(*, model_version_ids: list[int]) -> dict[int, dict]:
    """Per model version: detected segments people confirmed and rejected, and the precision that gives."""
    rows = (
        Annotation.objects.filter(model_version_id__in=model_version_ids)
        .values("model_version_id")
        .annotate(
            confirmed=Count("id", filter=Q(label=AnnotationLabel.POSITIVE)),
            rejected=Count("id", filter=Q(label=AnnotationLabel.NEGATIVE)),
        )
    )
    observed = {mid: {"confirmed": 0, "rejected": 0, "precision": None} for mid in model_version_ids}
    for row in rows:
        reviewed = row["confirmed"] + row["rejected"]
        observed[row["model_version_id"]] = {
            "confirmed": row["confirmed"],
            "rejected": row["rejected"],
            "precision": row["confirmed"] / reviewed if reviewed else None,
        }
    return observed


def model_version_comparison(*, scene_type: SceneType) -> list[dict]:
    """Every version of the scene type, newest first, with held-out metrics and the precision people observed."""
    versions = list(
        ModelVersion.objects.filter(scene_type=scene_type).select_related("training_run").order_by("-created_at", "-id")
    )
    observed = observed_precision(model_version_ids=[v.pk for v in versions])
    result = []
    for version in versions:
        metrics = version.metrics or {}
        run = getattr(version, "training_run", None)
        result.append(
            {
                "id": version.pk,
                "name": version.name,
                "status": version.status,
                "is_active": version.is_active,
                "backbone_set": version.backbone_set,
                "backbone_digest": version.backbone_digest,
                "channel_order": (version.card or {}).get("channel_order", "RGB"),
                "fine_tuned_backbones": bool(((version.card or {}).get("backbones") or {}).get("fine_tuned", False)),
                "created_at": version.created_at,
                "origin": "trained here" if run else (version.card or {}).get("training", {}).get("source", "uploaded"),
                "training_run": run.pk if run else None,
                "heldout": {key: metrics[key] for key in HEADLINE_METRICS if key in metrics},
                "reported": metrics.get("reported_by_paper") or {},
                "observed": observed[version.pk],
                "download_url": reverse("model-download", args=[version.pk]) if version.weights else None,
                "error": version.error,
            }
        )
    return result


def scene_type_stats(*, scene_type: SceneType) -> dict:
    counts = annotation_span_counts(scene_type=scene_type)
    usable = annotation_span_counts(scene_type=scene_type, embedded_only=True)
    annotated = Annotation.objects.filter(scene_type=scene_type)
    active = ModelVersion.objects.filter(scene_type=scene_type, is_active=True).first()
    run = training_run_active(scene_type=scene_type)
    needed = spans_needed(**usable)
    return {
        "scene_type": scene_type.slug,
        "name": scene_type.name,
        "active_model": active.pk if active else None,
        "annotations": {
            "positive_spans": counts["positive"],
            "negative_spans": counts["negative"],
            # On movies whose embeddings are stored (analysed): what training can use now.
            "usable_positive_spans": usable["positive"],
            "usable_negative_spans": usable["negative"],
            "movies": annotated.values("movie_id").distinct().count(),
        },
        "can_train": not any(needed.values()),
        "spans_needed": needed,
        "active_training_run": run.pk if run else None,
        "rederive_run": _rederive_shown(scene_type=scene_type),
        "versions": model_version_comparison(scene_type=scene_type),
    }


def _rederive_shown(*, scene_type: SceneType) -> dict | None:
    """The re-derivation after a settings save while it is queued or running, or when it failed (so people see it)."""
    latest = run_latest(kind="rederive", subject_id=scene_type.pk)
    if latest is None or latest.status in (RunStatus.SUCCEEDED, RunStatus.CANCELLED):
        return None
    return run_progress(latest)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) index runs where mask is true, merged across gaps of at most UNSURE_MERGE_GAP_S."""
    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    runs: list[tuple[int, int]] = []
    for start, end in zip(edges[::2].tolist(), edges[1::2].tolist()):
        if runs and start - runs[-1][1] <= UNSURE_MERGE_GAP_S:
            runs[-1] = (runs[-1][0], end)
        else:
            runs.append((start, end))
    return [(s, e) for s, e in runs if e - s >= UNSURE_MIN_S]


def _overlaps_any(start: float, end: float, spans: list[tuple[float, float]]) -> bool:
    return any(min(end, e) > max(start, s) for s, e in spans)


def _link(movie_id: int, start_s: float) -> str:
    return f"/movies/{movie_id}/?t={start_s:g}&annotate=1"


def suggestion_list(*, scene_type: SceneType, limit: int = 20) -> dict:
    """Spans worth labelling next: where the active model is least sure, and its detections nobody reviewed.

    Spans that overlap an existing annotation of the scene type are left out (someone already looked).
    Least sure first: unsure spans by how close their mean score is to the cut, detections by confidence.
    """
    active = ModelVersion.objects.filter(scene_type=scene_type, is_active=True).first()
    if active is None:
        return {"model_version": None, "results": [], "detail": f"{scene_type.name} has no active model yet: "
                "train one above, or upload a model file."}
    annotated: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for movie_id, start, end in Annotation.objects.filter(scene_type=scene_type).values_list(
        "movie_id", "start_s", "end_s"
    ):
        annotated[movie_id].append((start, end))

    candidates: list[tuple[float, dict]] = []
    tracks = ScoreTrack.objects.filter(scene_type=scene_type, model_version=active).order_by("-created_at")
    for movie_id, raw in tracks.values_list("movie_id", "scores")[:MAX_TRACKS_SCANNED]:
        scores = ScoreTrack.decode(raw)
        for start, end in _runs(np.abs(scores - scene_type.cut) <= UNSURE_MARGIN):
            if _overlaps_any(start, end, annotated[movie_id]):
                continue
            mean = float(scores[start:end].mean())
            candidates.append(
                (
                    abs(mean - scene_type.cut),
                    {
                        "kind": "unsure",
                        "movie_id": movie_id,
                        "start_s": float(start),
                        "end_s": float(end),
                        "why": f"the active model is unsure here: mean score {mean:.2f} against the cut "
                        f"{scene_type.cut:.2f} for {end - start} s",
                        "score": mean,
                    },
                )
            )

    detections = (
        Segment.objects.filter(scene_type=scene_type, source=SegmentSource.DETECTED, model_version=active)
        .filter(reviews__isnull=True)
        .order_by("confidence", "movie_id", "start_s")
        .values_list("id", "movie_id", "start_s", "end_s", "confidence")[: limit * 5]
    )
    for segment_id, movie_id, start, end, confidence in detections:
        if _overlaps_any(start, end, annotated[movie_id]):
            continue
        candidates.append(
            (
                abs(confidence - scene_type.cut),
                {
                    "kind": "unreviewed",
                    "movie_id": movie_id,
                    "segment_id": segment_id,
                    "start_s": start,
                    "end_s": end,
                    "why": f"detected by {active.name} with confidence {confidence:.2f}; nobody has confirmed "
                    "or rejected it yet",
                    "score": confidence,
                },
            )
        )

    candidates.sort(key=lambda c: (c[0], c[1]["movie_id"], c[1]["start_s"]))
    chosen = [c for _, c in candidates[:limit]]
    titles = dict(Movie.objects.filter(pk__in={c["movie_id"] for c in chosen}).values_list("pk", "title"))
    for c in chosen:
        c["movie_title"] = titles.get(c["movie_id"], "")
        c["link"] = _link(c["movie_id"], c["start_s"])
    return {"model_version": active.pk, "results": chosen}


# --- cross-validated quality -------------------------------------------------------------------------------------


def labels_fingerprint(*, scene_type: SceneType) -> str:
    """Changes whenever a label of the scene type is added, changed or removed, or a labelled movie gains or loses
    the stored embeddings training uses (one query)."""
    from kissweb.training.dataset import trainable_embeddings

    labels = Annotation.objects.filter(scene_type=scene_type)
    facts = labels.aggregate(n=Count("id"), ids=Sum("id"), changed=Max("updated_at"))
    usable = labels.filter(movie_id__in=trainable_embeddings().values("movie_id")).count()
    changed = facts["changed"].isoformat() if facts["changed"] else "-"
    return f"{facts['n']}:{facts['ids'] or 0}:{usable}:{changed}"


def quality_estimate_latest(*, scene_type: SceneType) -> dict:
    """The newest cross-validated figure of the scene type, and whether it rests on the labels as they are now."""
    from kissweb.training.models import QualityEstimate

    estimate = QualityEstimate.objects.filter(scene_type=scene_type).first()
    fingerprint = labels_fingerprint(scene_type=scene_type)
    if estimate is None:
        return {"estimate": None, "current": False}
    return {
        "current": estimate.labels_fingerprint == fingerprint,
        "estimate": {
            "computed_at": estimate.computed_at,
            "backbone_set": estimate.backbone_set,
            "n_seconds": estimate.n_seconds,
            "n_scene_seconds": estimate.n_scene_seconds,
            "n_movies": estimate.n_movies,
            "n_scene_movies": estimate.n_scene_movies,
            "n_folds": estimate.n_folds,
            "enough": estimate.enough,
            "metrics": estimate.metrics,
            "warnings": estimate.warnings,
            "duration_s": estimate.duration_s,
            "enough_means": _enough_means(),
        },
    }


def _enough_means() -> dict:
    """What a figure needs to be trusted (detector.quality's thresholds), for the page to say what to label."""
    from detector import quality

    return {"movies_per_label": quality.MIN_GROUPS_PER_CLASS, "scene_seconds": quality.MIN_SCENE_SECONDS}
