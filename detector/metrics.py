"""Classification metrics for per-second predictions, and per-clip (per-group) summaries. numpy only."""

from __future__ import annotations

from typing import Any

import numpy as np


def binary_metrics(labels: np.ndarray, predictions: np.ndarray) -> dict[str, Any]:
    """accuracy, precision, recall, f1 (class 1 = the scene), confusion [[tn, fp], [fn, tp]], n_seconds.

    A ratio with a zero denominator (no predicted or no true scene seconds) counts as 0.0.
    """
    y = np.asarray(labels).astype(bool).reshape(-1)
    p = np.asarray(predictions).astype(bool).reshape(-1)
    if y.shape != p.shape:
        raise ValueError(f"labels and predictions differ in length: {y.size} and {p.size}")
    tp = int(np.sum(y & p))
    tn = int(np.sum(~y & ~p))
    fp = int(np.sum(~y & p))
    fn = int(np.sum(y & ~p))
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    return {
        "accuracy": _ratio(tp + tn, y.size),
        "precision": precision,
        "recall": recall,
        "f1": _ratio(2 * precision * recall, precision + recall),
        "confusion": [[tn, fp], [fn, tp]],
        "n_seconds": int(y.size),
    }


def group_results(
    groups: np.ndarray, labels: np.ndarray, probabilities: np.ndarray, *, cut: float = 0.5
) -> list[dict[str, Any]]:
    """One row per group (clip or span): its label (majority of its seconds), seconds, mean score, and accuracy."""
    groups = np.asarray(groups).reshape(-1)
    labels = np.asarray(labels).reshape(-1)
    probabilities = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    rows = []
    for group in np.unique(groups):
        mask = groups == group
        group_labels = labels[mask]
        group_probs = probabilities[mask]
        label = int(group_labels.mean() >= 0.5)
        mean_score = float(group_probs.mean())
        rows.append({
            "group": group.item() if isinstance(group, np.generic) else group,
            "label": label,
            "n_seconds": int(mask.sum()),
            "mean_score": round(mean_score, 6),
            "predicted": int(mean_score >= cut),
            "second_accuracy": round(float(np.mean((group_probs >= cut) == group_labels.astype(bool))), 6),
        })
    return rows


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else 0.0
