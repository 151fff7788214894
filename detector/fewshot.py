"""The few-shot training recipe: the default for every backbone set but the paper's own (`paper`, `published`).

With a handful of labelled clips the paper's recipe (Adam for 10 epochs on 80 % of the clips, early stopping on
one or two validation clips, cut 0.5) learns the look of its few examples. This recipe changes what is decided
from data and what is fixed in advance:

- features are standardised (mean and standard deviation of the training seconds), so no embedding dimension
  dominates by scale;
- L2-regularised logistic regression fitted to convergence (L-BFGS, full batch, float64): deterministic, no epoch
  or validation clip to choose; a strong fixed L2 (`DEFAULT_L2`);
- every (clip group, label) cell weighs the same and both labels weigh half: a 47-second negative clip counts no
  more than a 2-second kiss, and the few kiss seconds are not outvoted;
- by default the image embedding only: on few clips the audio statistics encode the recording (silent GIFs and
  stock clips are most of the kisses), not the scene;
- scores are smoothed over `smooth_s` neighbouring seconds before the cut (kisses last seconds, a single bright
  second does not);
- the cut is calibrated by k-fold cross-validation over groups and stored in the card (never below 0.5).

The result is still one Linear(D, 2) head: standardisation folds into its weights, so model files, `score` and
the app's stored embeddings are unchanged; the card's "recipe" and "scoring" say what was done.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from detector.metrics import (
    average_precision,
    binary_metrics,
    calibrated_cut,
    group_folds,
    group_results,
)

RECIPE = "fewshot-v1"
# L2 strength on standardised features with weights summing to 1: strong, as ~1,300 dimensions meet a dozen clip
# groups. (bench/RESULTS-quality.md: 0.001, 0.01, 0.1 and 1 were measured, and choosing among a list by inner
# cross-validation, l2=[...], which was noisier on 12 groups than any fixed value.)
DEFAULT_L2 = 1.0
DEFAULT_SMOOTH_S = 3
DEFAULT_CUT_FLOOR = 0.5
CALIBRATION_FOLDS = 5
MAX_ITERATIONS = 300

Progress = Callable[[int, int], None]


def cell_weights(labels: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Per-second weights: each label sums to 1/2, each (group, label) cell within it weighs the same."""
    y = np.asarray(labels).reshape(-1)
    g = np.asarray(groups).reshape(-1)
    weights = np.zeros(y.size, dtype=np.float64)
    for cls in (0, 1):
        of_class = y == cls
        cells = np.unique(g[of_class])
        for cell in cells:
            mask = of_class & (g == cell)
            weights[mask] = 0.5 / (cells.size * mask.sum())
    return weights


def fit_logistic(
    x: np.ndarray, y: np.ndarray, weights: np.ndarray, *, l2: float, columns: np.ndarray
) -> tuple[np.ndarray, float]:
    """Weighted, L2-regularised logistic regression on standardised `columns` of x.

    Returns (direction (D,), intercept) on the raw features: P(scene) = sigmoid(x @ direction + intercept), with
    zeros outside `columns`.
    """
    import torch

    xs = x[:, columns].astype(np.float64)
    mean = xs.mean(axis=0)
    std = xs.std(axis=0)
    std = np.where(std > 1e-8, std, 1.0)
    z = torch.from_numpy((xs - mean) / std)
    target = torch.from_numpy(y.astype(np.float64))
    w = torch.from_numpy(weights / weights.sum())
    beta = torch.zeros(z.shape[1], dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.LBFGS(
        [beta, bias], lr=1.0, max_iter=MAX_ITERATIONS, tolerance_grad=1e-9, tolerance_change=1e-12,
        history_size=20, line_search_fn="strong_wolfe",
    )

    def closure():
        optimiser.zero_grad()
        logits = z @ beta + bias
        loss = (w * torch.nn.functional.binary_cross_entropy_with_logits(logits, target, reduction="none")).sum()
        loss = loss + 0.5 * l2 * (beta * beta).sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    coefficients = beta.detach().numpy() / std
    direction = np.zeros(x.shape[1], dtype=np.float64)
    direction[columns] = coefficients
    intercept = float(bias.detach().numpy()[0] - coefficients @ mean)
    return direction, intercept


def folds_for(labels: np.ndarray, groups: np.ndarray, k: int, seed: int) -> np.ndarray | None:
    """Fold per second for calibration (k capped so each fold's training part keeps both labels), or None."""

    y = np.asarray(labels)
    g = np.asarray(groups)
    group_label = {gid: int(y[g == gid].mean() >= 0.5) for gid in np.unique(g).tolist()}
    per_class = [sum(1 for lab in group_label.values() if lab == cls) for cls in (0, 1)]
    if min(per_class) < 2:
        return None
    k = min(k, len(group_label))
    fold_of = group_folds(y, g, k=k, seed=seed)
    return np.array([fold_of[gid] for gid in g.tolist()], dtype=np.int64)


def train_fewshot(
    x: np.ndarray,
    y: np.ndarray,
    g: np.ndarray,
    *,
    image_dim: int,
    runs: np.ndarray | None = None,
    augmented: np.ndarray | None = None,
    audio: bool = False,
    l2: float | Sequence[float] | None = None,
    smooth_s: int = DEFAULT_SMOOTH_S,
    calibrate: bool = True,
    cut_floor: float = DEFAULT_CUT_FLOOR,
    seed: int = 0,
    progress: Progress | None = None,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Fit the recipe; returns (weight (2, D), bias (2,), scoring, recipe, metrics) for `train_head`.

    l2: the L2 strength, or a list of them to choose from by the inner cross-validation (best out-of-fold average
    precision, the stronger on a tie). runs: ids of contiguous stretches (smoothing stays inside one); default: the groups. augmented: True for
    seconds that are transformed copies (other looks) of labelled seconds: they train, but the cut is calibrated
    and the metrics are computed on the real seconds only.
    """
    from detector.head import SceneModel, score

    if smooth_s < 1 or smooth_s % 2 == 0:
        raise ValueError(f"smooth_s must be an odd number of seconds >= 1, got {smooth_s}")
    grid = (DEFAULT_L2,) if l2 is None else tuple(l2) if isinstance(l2, (list, tuple)) else (float(l2),)
    if not grid or min(grid) <= 0:
        raise ValueError(f"l2 must be positive (or a list of positive values to choose from), got {l2}")
    runs = g if runs is None else np.asarray(runs).reshape(-1)
    augmented = np.zeros(y.size, dtype=bool) if augmented is None else np.asarray(augmented, dtype=bool)
    real = ~augmented
    columns = np.arange(x.shape[1] if audio else image_dim)
    warnings: list[str] = []
    folds = folds_for(y[real], g[real], CALIBRATION_FOLDS, seed) if calibrate else None
    report = progress or (lambda done, total: None)
    oof_by_l2 = {strength: np.full(y.size, np.nan) for strength in grid}
    if folds is not None:
        fold_all = np.full(y.size, -1, dtype=np.int64)
        fold_all[real] = folds
        # an augmented copy belongs to the fold of its group's real seconds
        group_fold = {gid: f for gid, f in zip(g[real].tolist(), folds.tolist())}
        fold_all[augmented] = [group_fold.get(gid, -1) for gid in g[augmented].tolist()]
        n_folds = int(folds.max()) + 1
        steps = 1 + n_folds * len(grid)
        for f in range(n_folds):
            held = fold_all == f
            train = ~held
            if np.unique(y[train]).size < 2:
                continue
            part = held & real
            for i, strength in enumerate(grid):
                direction, intercept = fit_logistic(
                    x[train], y[train], cell_weights(y[train], g[train]), l2=strength, columns=columns
                )
                oof_by_l2[strength][part] = score(
                    x[part], _model(direction, intercept, smooth_s), runs=runs[part]
                )
                report(f * len(grid) + i + 1, steps)
    else:
        steps = 1
        warnings.append(
            "fewer than 2 clip groups of each label: the cut could not be calibrated by cross-validation; 0.5 used."
        )
    ranking = {}
    for strength, values in oof_by_l2.items():
        scored = ~np.isnan(values)
        ranking[strength] = average_precision(y[scored], values[scored]) if y[scored].any() else 0.0
    chosen = max(grid, key=lambda strength: (ranking[strength], strength))
    if folds is None:
        chosen = DEFAULT_L2 if DEFAULT_L2 in grid else grid[len(grid) // 2]  # nothing to choose with
    oof = oof_by_l2[chosen]
    direction, intercept = fit_logistic(x, y, cell_weights(y, g), l2=chosen, columns=columns)
    report(steps, steps)
    scored = ~np.isnan(oof)
    cut = calibrated_cut(y[scored], oof[scored], floor=cut_floor) if scored.any() else 0.5
    model = _model(direction, intercept, smooth_s)
    fitted = score(x[real], model, runs=runs[real])
    metrics: dict[str, Any] = {
        "train": {**binary_metrics(y[real], fitted >= cut), "n_groups": int(np.unique(g[real]).size)},
        "validation": None,
        "test": None,
        "best_epoch": None,
        "per_group": [],
    }
    if scored.any():
        metrics["validation"] = {
            **binary_metrics(y[scored], oof[scored] >= cut), "n_groups": int(np.unique(g[scored]).size),
            "note": "out-of-fold over clip groups, at the cut calibrated on these same scores",
        }
        metrics["per_group"] = [
            {**row, "split": "cross-validation"} for row in group_results(g[scored], y[scored], oof[scored], cut=cut)
        ]
    metrics["warnings"] = warnings
    weight = np.zeros((2, x.shape[1]), dtype=np.float32)
    weight[1] = direction.astype(np.float32)
    bias = np.array([0.0, intercept], dtype=np.float32)
    scoring = {"smooth_s": int(smooth_s), "cut": round(float(cut), 6),
               "cut_source": f"{int(folds.max()) + 1}-fold cross-validation over clip groups" if folds is not None
               else "default 0.5 (too few groups to calibrate)"}
    recipe = {
        "name": RECIPE, "standardised": True, "loss": "logistic, each (group, label) cell and each label weighed "
        "equally", "l2": chosen, "l2_chosen_from": list(grid),
        "l2_oof_average_precision": {str(k): round(v, 4) for k, v in ranking.items()}, "optimizer": "L-BFGS (full batch, float64)", "audio": bool(audio),
        "smooth_s": int(smooth_s), "calibrated_cut": bool(folds is not None),
        "augmented_seconds": int(augmented.sum()),
    }
    return weight, bias, scoring, recipe, metrics


def _model(direction: np.ndarray, intercept: float, smooth_s: int):
    from detector.head import SceneModel

    weight = np.zeros((2, direction.size), dtype=np.float32)
    weight[1] = direction.astype(np.float32)
    bias = np.array([0.0, intercept], np.float32)
    return SceneModel(weight=weight, bias=bias, card={"scoring": {"smooth_s": smooth_s}})
