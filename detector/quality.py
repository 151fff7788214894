"""Measuring a scene detector honestly: cross-validation over groups (movies, sources) and per-second curves.

`cross_validate` trains the real head (`detector.train.train_head`, default recipe) k times, each time without one
fold of groups, scores the held-out groups with `detector.head.score` and pools those out-of-fold probabilities.
Seconds of one group (a movie, or the source of a clip) never sit on both sides of a split: neighbouring seconds
and clips of one source are near copies, so a split by second would measure memory, not generalisation.

numpy only at import; torch is imported by training.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from detector.metrics import binary_metrics, calibrated_cut, group_folds, precision_recall_curve
from detector.metrics import plain_id as _plain

# Below these the cross-validated figure says little; `CrossValidation.enough` is False and a warning says why.
MIN_GROUPS_PER_CLASS = 3
MIN_SCENE_SECONDS = 20
FALSE_ALARM_BUDGET_PER_10_MIN = 1.0


@dataclass
class CrossValidation:
    """Out-of-fold quality of the default training recipe on given per-second features and labels.

    f1/precision/recall/confusion: every held-out second labelled by its fold model's own cut (the cut stored in
    that model's card, as `detect` would use it): the figure a user can expect on movies like these.
    cut: the cut calibrated on all out-of-fold probabilities (best F1 among cuts >= 0.5, see `calibrated_cut`).
    false_alarms_per_10_min: false-alarm seconds per 10 minutes of not-scene seconds, at the fold models' cuts.
    probabilities: out-of-fold P(scene) per input second (NaN where its fold could not be trained).
    """

    f1: float
    precision: float
    recall: float
    accuracy: float
    confusion: list[list[int]]
    cut: float
    false_alarms_per_10_min: float
    n_seconds: int
    n_scene_seconds: int
    n_groups: int
    n_scene_groups: int
    n_folds: int
    enough: bool
    warnings: list[str] = field(default_factory=list)
    probabilities: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32), repr=False)
    folds: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), repr=False)

    def to_json(self) -> dict[str, Any]:
        """Everything but the per-second arrays, as plain JSON values."""
        return {
            "f1": self.f1, "precision": self.precision, "recall": self.recall, "accuracy": self.accuracy,
            "confusion": self.confusion, "cut": self.cut, "false_alarms_per_10_min": self.false_alarms_per_10_min,
            "n_seconds": self.n_seconds, "n_scene_seconds": self.n_scene_seconds, "n_groups": self.n_groups,
            "n_scene_groups": self.n_scene_groups, "n_folds": self.n_folds, "enough": self.enough,
            "warnings": list(self.warnings),
        }


def cross_validate(
    features: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
    *,
    backbone_set: str,
    k: int = 5,
    seed: int = 0,
    image_dim: int | None = None,
    runs: np.ndarray | None = None,
    scene_type: str = "scene",
    train_options: dict[str, Any] | None = None,
) -> CrossValidation:
    """k-fold cross-validation over groups of the default training recipe for `backbone_set`.

    features (n, D) float, labels (n,) 0/1, groups (n,) any hashable ids (movies; every second of a group stays in
    one fold), runs (n,) optional ids of contiguous stretches of one movie in time order (the recipe's temporal
    smoothing never crosses a run; default: each group is one run, so pass runs when a group's seconds are not
    one contiguous stretch). k is capped at the number of groups (k = number of groups is leave-one-group-out).
    train_options go to `detector.train.train_head` (e.g. {"recipe": "paper"}). Deterministic for a seed.

    Raises ValueError on malformed arrays and DetectorError when both labels are not present.
    """
    from detector.errors import DetectorError
    from detector.head import score
    from detector.train import train_head

    x = np.asarray(features, dtype=np.float32)
    y = np.asarray(labels).astype(np.int64).reshape(-1)
    g = np.asarray(groups).reshape(-1)
    r = g if runs is None else np.asarray(runs).reshape(-1)
    if x.ndim != 2 or not (x.shape[0] == y.size == g.size == r.size):
        raise ValueError(f"features (n, D), labels, groups and runs (n,) must agree: {x.shape}, {y.size}, {g.size}")
    if y.size == 0 or y.min() == y.max():
        raise DetectorError(
            "Cross-validation needs seconds of both labels; "
            f"got {int((y == 1).sum())} scene and {int((y == 0).sum())} other seconds."
        )
    if k < 2:
        raise ValueError("k must be at least 2")
    n_groups = int(np.unique(g).size)
    k = min(k, n_groups)
    fold_of = group_folds(y, g, k=k, seed=seed)
    fold = np.array([fold_of[_plain(gid)] for gid in g], dtype=np.int64)
    probs = np.full(y.size, np.nan, dtype=np.float32)
    predicted = np.zeros(y.size, dtype=bool)
    warnings: list[str] = []
    for f in range(k):
        test = fold == f
        train = ~test
        if not test.any():
            continue
        if np.unique(y[train]).size < 2:
            warnings.append(f"fold {f + 1}: its training part holds one label only; its seconds are not scored.")
            continue
        model, _ = train_head(
            x[train], y[train], g[train], backbone_set=backbone_set, scene_type=scene_type, seed=seed,
            image_dim=image_dim, **(train_options or {}),
        )
        probs[test] = score(x[test], model, runs=r[test])
        predicted[test] = probs[test] >= model_cut(model.card)
    scored = ~np.isnan(probs)
    metrics = binary_metrics(y[scored], predicted[scored])
    group_label = {_plain(gid): int(y[g == gid].mean() >= 0.5) for gid in np.unique(g)}
    n_scene_groups = sum(group_label.values())
    enough = True
    for count, name in ((n_scene_groups, "scene"), (n_groups - n_scene_groups, "other")):
        if count < MIN_GROUPS_PER_CLASS:
            enough = False
            warnings.append(
                f"only {count} {name} group(s) (movies): the figure rests on too few; label at least "
                f"{MIN_GROUPS_PER_CLASS} of each."
            )
    if int(y.sum()) < MIN_SCENE_SECONDS:
        enough = False
        warnings.append(f"only {int(y.sum())} scene seconds: label at least {MIN_SCENE_SECONDS}.")
    return CrossValidation(
        f1=metrics["f1"], precision=metrics["precision"], recall=metrics["recall"], accuracy=metrics["accuracy"],
        confusion=metrics["confusion"],
        cut=calibrated_cut(y[scored], probs[scored]) if scored.any() else 0.5,
        false_alarms_per_10_min=false_alarms_per_10_min(y[scored], predicted[scored]),
        n_seconds=int(y.size), n_scene_seconds=int(y.sum()), n_groups=n_groups, n_scene_groups=n_scene_groups,
        n_folds=k, enough=enough, warnings=warnings, probabilities=probs, folds=fold,
    )


def model_cut(card: dict[str, Any]) -> float:
    """The cut a model's card asks for (a calibrated one where its recipe stored it), else 0.5."""
    scoring = card.get("scoring") or {}
    return float(scoring.get("cut", 0.5))


def false_alarms_per_10_min(labels: np.ndarray, predictions: np.ndarray) -> float:
    """False-alarm seconds per 600 not-scene seconds (0.0 where there are none)."""
    y = np.asarray(labels).astype(bool)
    p = np.asarray(predictions).astype(bool)
    negatives = int((~y).sum())
    return float(600.0 * np.sum(~y & p) / negatives) if negatives else 0.0


def best_f1_cut(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    """The cut with the best per-second F1 on these probabilities (hindsight: an upper bound, not a promise)."""
    curve = precision_recall_curve(labels, probabilities)
    if not curve["cut"]:
        return {"cut": 0.5, "f1": 0.0, "precision": 0.0, "recall": 0.0}
    i = int(np.argmax(curve["f1"]))
    return {name: float(curve[name][i]) for name in ("cut", "f1", "precision", "recall")}


# --- the held-out protocol: intervals over sources, scenes against labelled spans --------------------------------

BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0
BOOTSTRAP_LEVEL = 0.95
SCENE_MIN_IOU = 0.3


def bootstrap_interval(
    units: Sequence[Any],
    statistic: Callable[[list[Any]], float],
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    level: float = BOOTSTRAP_LEVEL,
) -> dict[str, Any]:
    """Percentile bootstrap interval of `statistic` over `units` (one per source), resampled with replacement.

    Each resample draws len(units) units (a source may come twice, all its seconds with it) and computes the
    statistic on that list. Resamples whose statistic is undefined (NaN: e.g. no scene second drawn) are left out
    and counted. Returns {"low", "high", "resamples", "defined", "seed", "level"}; low = high = NaN when no
    resample was defined. Deterministic for a seed.
    """
    if resamples < 1:
        raise ValueError("resamples must be at least 1")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    units = list(units)
    values = np.full(resamples, np.nan)
    if units:
        rng = np.random.default_rng(seed)
        draws = rng.integers(0, len(units), size=(resamples, len(units)))
        for index, draw in enumerate(draws):
            values[index] = statistic([units[i] for i in draw])
    defined = values[~np.isnan(values)]
    tail = (1.0 - level) / 2 * 100
    low, high = (np.percentile(defined, [tail, 100 - tail]) if defined.size else (np.nan, np.nan))
    return {"low": float(low), "high": float(high), "resamples": int(resamples), "defined": int(defined.size),
            "seed": int(seed), "level": float(level)}


def interval_iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Intersection over union of two [start, end) intervals (0.0 when they do not overlap)."""
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = (a[1] - a[0]) + (b[1] - b[0]) - inter
    return float(inter / union) if union > 0 else 0.0


@dataclass
class SceneMatch:
    """Detected scenes against labelled scene spans of one file (or a pool of files).

    matched: scene spans found by a detected scene with IoU >= min_iou (one detection per span, greedily by IoU);
    false_scenes: detected scenes matching no span that lie mostly (at least half) on labelled seconds; unjudged:
    the others, mostly on seconds nobody labelled (they count for nothing).
    """

    n_truth: int
    n_detected: int
    matched: int
    false_scenes: int
    unjudged: int

    @property
    def recall(self) -> float:
        return self.matched / self.n_truth if self.n_truth else float("nan")

    @property
    def precision(self) -> float:
        judged = self.matched + self.false_scenes
        return self.matched / judged if judged else float("nan")

    def __add__(self, other: "SceneMatch") -> "SceneMatch":
        return SceneMatch(*(getattr(self, name) + getattr(other, name) for name in
                            ("n_truth", "n_detected", "matched", "false_scenes", "unjudged")))


def match_scenes(
    truth: Sequence[tuple[float, float]],
    detected: Sequence[tuple[float, float]],
    *,
    labelled: Sequence[tuple[float, float]] | None = None,
    min_iou: float = SCENE_MIN_IOU,
) -> SceneMatch:
    """Match detected scenes to labelled scene spans of one file (all [start_s, end_s) in seconds).

    labelled: every labelled span of the file, scene or not (None: the whole file is labelled). A detected scene
    that matches nothing is a false scene when at least half of it lies on labelled seconds, else unjudged.
    """
    pairs = sorted(
        ((interval_iou(t, d), ti, di) for ti, t in enumerate(truth) for di, d in enumerate(detected)),
        reverse=True,
    )
    used_truth: set[int] = set()
    used_detected: set[int] = set()
    for iou, ti, di in pairs:
        if iou < min_iou:
            break
        if ti in used_truth or di in used_detected:
            continue
        used_truth.add(ti)
        used_detected.add(di)
    false_scenes = unjudged = 0
    for di, (start, end) in enumerate(detected):
        if di in used_detected:
            continue
        if labelled is None:
            false_scenes += 1
            continue
        covered = _covered_seconds(start, end, labelled)
        if covered >= 0.5 * (end - start):
            false_scenes += 1
        else:
            unjudged += 1
    return SceneMatch(n_truth=len(truth), n_detected=len(detected), matched=len(used_truth),
                      false_scenes=false_scenes, unjudged=unjudged)


def _covered_seconds(start: float, end: float, spans: Sequence[tuple[float, float]]) -> float:
    """Length of [start, end) covered by the union of spans."""
    pieces = sorted((max(start, s), min(end, e)) for s, e in spans if min(end, e) > max(start, s))
    covered, reach = 0.0, start
    for s, e in pieces:
        s = max(s, reach)
        if e > s:
            covered += e - s
            reach = e
    return covered
