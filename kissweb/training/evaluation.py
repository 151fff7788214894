"""Held-out measures of a scene model: per second and per segment. Pure NumPy, no Django."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Span = tuple[float, float]

SEGMENT_IOU_MIN = 0.5


def per_second_metrics(*, labels: np.ndarray, probabilities: np.ndarray, cut: float) -> dict:
    """Accuracy, precision, recall, F1 and the confusion matrix [[tn, fp], [fn, tp]] of `p >= cut`."""
    truth = np.asarray(labels).astype(bool)
    predicted = np.asarray(probabilities) >= cut
    tp = int(np.sum(truth & predicted))
    fp = int(np.sum(~truth & predicted))
    fn = int(np.sum(truth & ~predicted))
    tn = int(np.sum(~truth & ~predicted))
    n = tp + fp + fn + tn
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "accuracy": (tp + tn) / n if n else 0.0,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "confusion": [[tn, fp], [fn, tp]],
        "n_seconds": n,
    }


def temporal_iou(a: Span, b: Span) -> float:
    intersection = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return intersection / union if union > 0 else 0.0


def _overlaps(a: Span, b: Span) -> bool:
    return min(a[1], b[1]) > max(a[0], b[0])


def segment_metrics(*, detected: Sequence[Span], positives: Sequence[Span], labelled: Sequence[Span]) -> dict:
    """Segment-level precision and recall on one movie's labelled spans.

    A detected segment is judged only where people looked: when it overlaps a labelled span (positive or
    negative). It is found when its temporal IoU with a positive span is at least 0.5; a positive span is
    recalled when some detected segment matches it that way.
    """
    judged = [d for d in detected if any(_overlaps(d, span) for span in labelled)]
    found = sum(1 for d in judged if any(temporal_iou(d, p) >= SEGMENT_IOU_MIN for p in positives))
    recalled = sum(1 for p in positives if any(temporal_iou(d, p) >= SEGMENT_IOU_MIN for d in detected))
    return {"n_detected": len(judged), "n_found": found, "n_positive_spans": len(positives), "n_recalled": recalled}


def segment_metrics_total(per_movie: Sequence[dict]) -> dict:
    n_detected = sum(m["n_detected"] for m in per_movie)
    n_found = sum(m["n_found"] for m in per_movie)
    n_positive = sum(m["n_positive_spans"] for m in per_movie)
    n_recalled = sum(m["n_recalled"] for m in per_movie)
    return {
        "segment_precision": n_found / n_detected if n_detected else 0.0,
        "segment_recall": n_recalled / n_positive if n_positive else 0.0,
        "segment_iou_min": SEGMENT_IOU_MIN,
        "n_detected_segments": n_detected,
        "n_found_segments": n_found,
        "n_heldout_positive_spans": n_positive,
    }
