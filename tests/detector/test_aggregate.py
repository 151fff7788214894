"""Algorithm 1 (aggregate) against a literal brute-force reading of its definition, and the published cases."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

import detector
from detector import aggregate as aggregate_module
from detector.aggregate import Segment, aggregate

CASES_FILE = Path(__file__).with_name("aggregate_cases.json")


def brute_force(labels: list[int], m: int, t: float) -> list[tuple[int, int]]:
    """The definition read literally: candidates by exhaustive search, then repeated first-pair deletion."""
    n = len(labels)
    candidates: list[tuple[int, int]] = []
    for s in range(n):
        if labels[s] != 1 or n - s < m:
            continue
        best = None
        ones = sum(labels[s : s + m - 1])
        for e in range(s + m - 1, n):
            ones += labels[e]
            if labels[e] == 1 and ones / (e - s + 1) >= t:
                best = e
        if best is not None:
            candidates.append((s, best))
    while True:
        pair = next(
            (
                (i, j)
                for i in range(len(candidates))
                for j in range(i + 1, len(candidates))
                if candidates[j][0] <= candidates[i][1]
            ),
            None,
        )
        if pair is None:
            return candidates
        i, j = pair
        length_i = candidates[i][1] - candidates[i][0] + 1
        length_j = candidates[j][1] - candidates[j][0] + 1
        del candidates[i if length_j > length_i else j]


def published_cases() -> list[dict]:
    return json.loads(CASES_FILE.read_text())["cases"]


@pytest.mark.parametrize("case", published_cases(), ids=lambda c: "".join(map(str, c["labels"])))
def test_published_cases(case):
    got = aggregate(case["labels"], case["min_frames"], case["threshold"])
    assert got == [tuple(pair) for pair in case["expected"]]
    assert got == brute_force(case["labels"], case["min_frames"], case["threshold"])


def test_published_cases_file_holds_the_issue_cases():
    cases = {(tuple(c["labels"]), c["min_frames"], c["threshold"]): c["expected"] for c in published_cases()}
    assert cases[((1, 1, 0, 1, 0, 0, 1, 0, 1), 4, 0.7)] == [[0, 3]]
    assert cases[((1, 1, 0, 1, 1, 0, 1, 0, 1), 4, 0.7)] == [[0, 6]]
    assert cases[((1, 1, 0, 1, 1, 0, 1, 1, 1), 4, 0.7)] == [[0, 8]]
    assert cases[((1, 1, 1, 0, 1), 4, 0.7)] == [[0, 4]]
    assert cases[((0, 0, 0, 0, 0), 4, 0.7)] == []
    assert cases[((1,) * 7 + (0,) * 3, 4, 0.7)] == [[0, 6]]


THRESHOLDS = [1.0, 0.7, 0.5, 0.1, 1 / 3, 2 / 3, 0.75, 0.6, 0.9, 1e-9]


def test_matches_brute_force_on_random_inputs():
    rng = random.Random(20190601)
    for _ in range(4000):
        n = rng.randint(0, 36)
        density = rng.choice([0.2, 0.5, 0.7, 0.85, 0.95, 1.0])
        labels = [1 if rng.random() < density else 0 for _ in range(n)]
        m = rng.choice([1, 1, 2, 3, 4, 5, 7, 10, rng.randint(1, 40)])
        t = rng.choice(THRESHOLDS + [rng.uniform(0.01, 1.0)])
        assert aggregate(labels, m, t) == brute_force(labels, m, t), (labels, m, t)


def test_matches_brute_force_on_longer_runs_of_scenes():
    rng = random.Random(7)
    for _ in range(60):
        labels: list[int] = []
        while len(labels) < 240:
            run = rng.randint(1, 30)
            bit = rng.random() < 0.4
            labels += [1 if (rng.random() < 0.9) == bit else 0 for _ in range(run)]
        m = rng.choice([1, 4, 10])
        t = rng.choice([0.7, 1.0, 0.5])
        assert aggregate(labels, m, t) == brute_force(labels, m, t)


def test_segments_never_overlap_and_respect_definition():
    rng = np.random.default_rng(3)
    labels = (rng.random(5000) < 0.6).astype(int)
    pairs = aggregate(labels, 10, 0.7)
    assert pairs, "a dense random input must give segments"
    for (s0, e0), (s1, e1) in zip(pairs, pairs[1:]):
        assert e0 < s1
    for s, e in pairs:
        assert e - s + 1 >= 10 and labels[s] == 1 and labels[e] == 1
        assert labels[s : e + 1].mean() >= 0.7


def test_accepts_numpy_and_bool_labels():
    labels = [1, 1, 0, 1, 1, 0, 1, 0, 1]
    assert aggregate(np.array(labels, dtype=np.uint8), 4, 0.7) == [(0, 6)]
    assert aggregate(np.array(labels, dtype=bool), 4, 0.7) == [(0, 6)]


@pytest.mark.parametrize(
    "labels, m, t",
    [([0, 2, 1], 4, 0.7), ([1, 1], 0, 0.7), ([1, 1], 2, 0.0), ([1, 1], 2, 1.5), ([1, 1], 2.5, 0.7)],
)
def test_rejects_bad_input(labels, m, t):
    with pytest.raises(ValueError):
        aggregate(labels, m, t)


def test_probabilities_to_segments_in_seconds_with_mean_confidence():
    probs = [0.1, 0.9, 0.8, 0.4, 0.95, 0.2, 0.7, 0.1, 0.6, 0.05]
    labels = [int(p >= 0.5) for p in probs]
    segments = aggregate_module.aggregate_probabilities(probs, cut=0.5, min_frames=4, threshold=0.7)
    expected_pairs = brute_force(labels, 4, 0.7)
    assert expected_pairs
    assert segments == [
        Segment(start_s=float(s), end_s=float(e + 1), confidence=pytest.approx(float(np.mean(probs[s : e + 1]))))
        for s, e in expected_pairs
    ]


def test_cut_moves_labels():
    probs = [0.45] * 12
    assert aggregate_module.DEFAULT_CUT == 0.5 and aggregate_module.aggregate_probabilities(probs) == []
    segments = aggregate_module.aggregate_probabilities(probs, cut=0.4)
    assert [(s.start_s, s.end_s) for s in segments] == [(0.0, 12.0)]
    assert segments[0].confidence == pytest.approx(0.45)


def test_public_face_has_the_probability_level_and_the_label_level_function():
    probs = [0.9] * 11 + [0.1] * 5
    assert detector.aggregate_probabilities(probs) == [Segment(0.0, 11.0, pytest.approx(0.9))]
    # the default finds a 2-second scene; the paper's preset does not
    short = [0.1] * 3 + [0.9] * 2 + [0.1] * 3
    assert detector.aggregate_probabilities(short) == [Segment(3.0, 5.0, pytest.approx(0.9))]
    paper = aggregate_module.PRESETS["paper"]
    assert detector.aggregate_probabilities(short, min_frames=paper.min_frames, threshold=paper.threshold) == []
    assert detector.aggregate.aggregate([1] * 11, 10, 0.7) == [(0, 10)]
    from detector import Segment as PublicSegment

    assert PublicSegment is Segment


def test_rejects_nan_probabilities():
    with pytest.raises(ValueError):
        aggregate_module.aggregate_probabilities([0.5, float("nan")])
