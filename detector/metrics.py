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


def average_precision(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """Area under the precision-recall steps: the mean, over scene seconds, of the precision at the cut that first
    takes them in (seconds with equal probability enter together, as sklearn's `average_precision_score` counts
    them). NaN where there is no scene second (undefined, not zero)."""
    y = np.asarray(labels).astype(bool).reshape(-1)
    p = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    if y.shape != p.shape:
        raise ValueError(f"labels and probabilities differ in length: {y.size} and {p.size}")
    positives = int(y.sum())
    if positives == 0:
        return float("nan")
    order = np.argsort(-p, kind="stable")
    p_sorted, y_sorted = p[order], y[order]
    tp = np.cumsum(y_sorted)
    seen = np.arange(1, y.size + 1)
    last = np.r_[np.nonzero(np.diff(p_sorted))[0], p_sorted.size - 1]  # the last index of each distinct cut
    recall = np.r_[0.0, tp[last] / positives]
    precision = tp[last] / seen[last]
    return float(np.sum(np.diff(recall) * precision))


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


def group_folds(labels: np.ndarray, groups: np.ndarray, *, k: int, seed: int = 0) -> dict[Any, int]:
    """Fold number (0..k-1) of each group, stratified by the group's label (majority of its seconds).

    The scene groups are dealt round-robin in a seeded order, then the other groups continue the deal, so every
    fold gets scene groups where there are at least k of them and folds differ in size by at most one group.
    """
    labels = np.asarray(labels).reshape(-1)
    groups = np.asarray(groups).reshape(-1)
    rng = np.random.default_rng(seed)
    unique = np.unique(groups)
    group_label = {plain_id(gid): int(labels[groups == gid].mean() >= 0.5) for gid in unique}
    folds: dict[Any, int] = {}
    position = 0
    for cls in (1, 0):
        members = sorted(gid for gid, lab in group_label.items() if lab == cls)
        for index in rng.permutation(len(members)):
            folds[members[index]] = position % k
            position += 1
    return folds


def calibrated_cut(labels: np.ndarray, probabilities: np.ndarray, *, floor: float = 0.5, beta: float = 1.0) -> float:
    """The cut >= floor with the best F-beta on these (out-of-fold) probabilities; ties take the higher cut.

    The floor keeps the decision at or above the balanced-prior point: kisses are rare in films, so a cut chosen
    on a handful of clips must not trade false alarms for recall below it. Where no cut >= floor finds a scene
    second, the floor is returned.
    """
    y = np.asarray(labels).astype(bool).reshape(-1)
    p = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    candidates = np.unique(p[p >= floor])
    best_cut, best_value = floor, -1.0
    for cut in candidates:
        value = fbeta(y, p >= cut, beta)
        if value >= best_value:
            best_cut, best_value = float(cut), value
    if best_value <= 0.0:
        return floor
    # halfway to the next lower probability: the same labels here, less brittle on new footage
    lower = p[p < best_cut]
    lower = lower[lower >= floor]
    return float((best_cut + lower.max()) / 2) if lower.size else best_cut


def fbeta(labels: np.ndarray, predictions: np.ndarray, beta: float = 1.0) -> float:
    y = np.asarray(labels).astype(bool)
    p = np.asarray(predictions).astype(bool)
    tp = float(np.sum(y & p))
    fp = float(np.sum(~y & p))
    fn = float(np.sum(y & ~p))
    denominator = (1 + beta**2) * tp + beta**2 * fn + fp
    return (1 + beta**2) * tp / denominator if denominator else 0.0


def precision_recall_curve(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, list[float]]:
    """Precision and recall at every distinct cut (descending), plus F1, for plots and best-cut search."""
    y = np.asarray(labels).astype(bool).reshape(-1)
    p = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    order = np.argsort(-p, kind="stable")
    p_sorted, y_sorted = p[order], y[order]
    tp = np.cumsum(y_sorted)
    fp = np.cumsum(~y_sorted)
    last = np.r_[np.nonzero(np.diff(p_sorted))[0], p_sorted.size - 1] if p_sorted.size else np.zeros(0, int)
    positives = max(int(y.sum()), 1)
    precision = tp[last] / np.maximum(tp[last] + fp[last], 1)
    recall = tp[last] / positives
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0)
    return {
        "cut": p_sorted[last].tolist(), "precision": precision.tolist(), "recall": recall.tolist(),
        "f1": f1.tolist(), "false_alarm_seconds": fp[last].astype(int).tolist(),
    }


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else 0.0


def plain_id(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
