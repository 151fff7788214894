"""The paper's Algorithm 1 (Ziai 2019): per-second labels -> non-overlapping scene segments, exact and O(n log n).

`aggregate(labels, min_frames, threshold)` is the algorithm on 0/1 labels and returns inclusive index pairs.
`aggregate_probabilities(probabilities, cut=..., min_frames=..., threshold=...)` (also `detector.aggregate_probabilities`)
labels the probabilities (`p >= cut`), runs the algorithm and returns `Segment`s in seconds with their mean
probability.

Definition (labels P[0..n-1], min_frames m >= 1, threshold t in (0, 1]):
1. For every s with P[s] = 1 and n - s >= m, the candidate (s, e) uses the largest e >= s + m - 1 with P[e] = 1 and
   mean(P[s..e]) >= t, if there is one.
2. Candidates ordered by s; while two overlap, take the first overlapping pair (i, j) in (i, j) order and delete the
   shorter one (j when equally long).
3. The remaining candidates, in order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Sequence

import numpy as np



@dataclass(frozen=True)
class ScenePreset:
    """Named scene settings: labels are p >= cut; a scene lasts at least min_frames seconds, of which at least the
    share `threshold` pass the cut."""

    name: str
    label: str
    cut: float
    min_frames: int
    threshold: float
    description: str

    def settings(self) -> dict[str, float | int]:
        return {"cut": self.cut, "min_frames": self.min_frames, "threshold": self.threshold}


# The one definition of the scene settings' defaults: the CLI, the app's scene types (kissweb) and, through the API,
# the web page read them from here. "default" was chosen by measurement on labelled real clips
# (bench/RESULTS-scenes.md); "paper" is the paper's Algorithm 1 setting (Ziai 2019).
PRESETS: dict[str, ScenePreset] = {
    preset.name: preset
    for preset in (
        ScenePreset(
            name="default", label="Short scenes (default)", cut=0.5, min_frames=2, threshold=0.7,
            description="Finds kisses of a few seconds; measured on labelled real clips (bench/RESULTS-scenes.md).",
        ),
        ScenePreset(
            name="paper", label="The paper's (Ziai 2019)", cut=0.5, min_frames=10, threshold=0.7,
            description="Scenes of at least 10 seconds, as in the paper; misses short kisses.",
        ),
    )
}
DEFAULT_PRESET = "default"
DEFAULT_CUT = PRESETS[DEFAULT_PRESET].cut
DEFAULT_MIN_FRAMES = PRESETS[DEFAULT_PRESET].min_frames
DEFAULT_THRESHOLD = PRESETS[DEFAULT_PRESET].threshold


@dataclass(frozen=True)
class Segment:
    """A detected scene: [start_s, end_s) in seconds and the mean probability of its windows."""

    start_s: float
    end_s: float
    confidence: float


def aggregate(labels: Sequence[int] | np.ndarray, min_frames: int, threshold: float) -> list[tuple[int, int]]:
    """Algorithm 1 on 0/1 labels: non-overlapping inclusive (start, end) window index pairs, in order.

    `mean(P[s..e]) >= threshold` is decided as floating point decides `sum / length >= threshold`, but exactly
    (integer arithmetic), so the result never depends on summation order.
    """
    p = _checked_labels(labels)
    _check_parameters(min_frames, threshold)
    starts, ends = _candidates(p, int(min_frames), float(threshold))
    return _resolve_overlaps(starts.tolist(), ends.tolist())


def aggregate_probabilities(
    probabilities: Sequence[float] | np.ndarray,
    *,
    cut: float = DEFAULT_CUT,
    min_frames: int = DEFAULT_MIN_FRAMES,
    threshold: float = DEFAULT_THRESHOLD,
    window_s: float = 1.0,
) -> list[Segment]:
    """Per-window probabilities -> `Segment`s: labels are `p >= cut`; window k covers [k, k+1) * window_s."""
    probs = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    if probs.size and not np.all(np.isfinite(probs)):
        raise ValueError("probabilities must be finite numbers; got NaN or infinity")
    if not 0.0 <= cut <= 1.0:
        raise ValueError(f"cut must be between 0 and 1, got {cut!r}")
    pairs = aggregate((probs >= cut).astype(np.int8), min_frames, threshold)
    prefix = np.concatenate(([0.0], np.cumsum(probs)))
    return [
        Segment(
            start_s=float(s * window_s),
            end_s=float((e + 1) * window_s),
            confidence=float((prefix[e + 1] - prefix[s]) / (e + 1 - s)),
        )
        for s, e in pairs
    ]


def _checked_labels(labels: Sequence[int] | np.ndarray) -> np.ndarray:
    p = np.asarray(labels)
    if p.ndim != 1:
        p = p.reshape(-1)
    if p.dtype == np.bool_:
        return p.astype(np.int64)
    if p.size and not np.all((p == 0) | (p == 1)):
        raise ValueError("labels must all be 0 or 1")
    return p.astype(np.int64)


def _check_parameters(min_frames: int, threshold: float) -> None:
    if isinstance(min_frames, bool) or int(min_frames) != min_frames or min_frames < 1:
        raise ValueError(f"min_frames must be a whole number >= 1, got {min_frames!r}")
    try:
        valid = 0.0 < float(threshold) <= 1.0
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")


def _threshold_fraction(threshold: float, max_length: int) -> tuple[int, int]:
    """(a, b) with: for every length L <= max_length and count c, float(c / L) >= threshold  <=>  c * b >= a * L.

    float(x) >= t holds exactly when x >= the midpoint between t and the double below it (x can never equal that
    midpoint: its denominator is >= 2**54). Among fractions with denominator <= max_length, the smallest one at or
    above the midpoint is therefore an exact stand-in, and it has small integers.
    """
    below = math.nextafter(threshold, 0.0)
    midpoint = (Fraction(threshold) + Fraction(below)) / 2
    return _smallest_fraction_at_least(midpoint, max(1, max_length))


def _smallest_fraction_at_least(x: Fraction, max_den: int) -> tuple[int, int]:
    """Smallest a/b >= x with 1 <= b <= max_den (x > 0), via the continued-fraction walk of limit_denominator."""
    if x.denominator <= max_den:
        return x.numerator, x.denominator
    p0, q0, p1, q1 = 0, 1, 1, 0
    n, d = x.numerator, x.denominator
    while True:
        a = n // d
        q2 = q0 + a * q1
        if q2 > max_den:
            break
        p0, q0, p1, q1 = p1, q1, p0 + a * p1, q2
        n, d = d, n - a * d
    k = (max_den - q0) // q1
    # p1/q1 and (p0 + k p1)/(q0 + k q1) are the neighbours of x among fractions with denominator <= max_den.
    first = Fraction(p1, q1)
    second = Fraction(p0 + k * p1, q0 + k * q1)
    upper = first if first >= x else second
    return upper.numerator, upper.denominator


def _candidates(p: np.ndarray, m: int, t: float) -> tuple[np.ndarray, np.ndarray]:
    """Step 1. With D[i] = b*S[i] - a*i (S = prefix sums), mean(P[s..e]) >= t  <=>  D[e+1] >= D[s].

    For each s the answer is the largest j = e + 1 >= s + m with P[j-1] = 1 and D[j] >= D[s]: the suffix maximum of D
    over such j is non-increasing, so the largest j whose suffix maximum reaches D[s] is found by binary search.
    """
    n = p.size
    if n < m:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    a, b = _threshold_fraction(t, n)
    prefix = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(p, out=prefix[1:])
    d = b * prefix - a * np.arange(n + 1, dtype=np.int64)
    floor = -(2**62)  # below every D, and still negatable
    usable = np.full(n + 1, floor, dtype=np.int64)
    ends_on_one = np.flatnonzero(p) + 1
    usable[ends_on_one] = d[ends_on_one]
    suffix_max = np.maximum.accumulate(usable[::-1])[::-1]
    starts = np.flatnonzero(p[: n - m + 1])
    if starts.size == 0:
        return starts, starts
    # suffix_max is non-increasing: negate it for searchsorted; count of j with suffix_max[j] >= D[s], minus one.
    j = np.searchsorted(-suffix_max, -d[starts], side="right") - 1
    keep = j >= starts + m
    return starts[keep], j[keep] - 1


def _resolve_overlaps(starts: list[int], ends: list[int]) -> list[tuple[int, int]]:
    """Step 2 as a stack sweep, equivalent to the definition's deletion order.

    Starts are distinct and increasing, so the first overlapping pair (i, j) in (i, j) order is always two neighbours
    (i, i+1): if j overlaps i, every candidate between them starts inside i too. Deleting one of them only makes the
    candidate before i a new neighbour, so the kept prefix never has to be looked at again except at its top.
    """
    kept_s: list[int] = []
    kept_e: list[int] = []
    for s, e in zip(starts, ends):
        alive = True
        while kept_s and s <= kept_e[-1]:
            # Lengths e - s + 1; the later one (j) goes when equally long.
            if e - s > kept_e[-1] - kept_s[-1]:
                kept_s.pop()
                kept_e.pop()
            else:
                alive = False
                break
        if alive:
            kept_s.append(s)
            kept_e.append(e)
    return list(zip(kept_s, kept_e))
