"""The sensitivity slider's JavaScript port of Algorithm 1 gives exactly what detector.aggregate gives."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import detector
from detector.aggregate import aggregate

RUNNER = Path(__file__).with_name("aggregate_runner.mjs")
CASES_FILE = Path(__file__).resolve().parent.parent / "detector" / "aggregate_cases.json"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="node (v18+) is needed to run the browser's aggregate.js")


def run_js(cases: list[dict]) -> list:
    done = subprocess.run(
        [NODE, str(RUNNER)], input=json.dumps(cases), capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(done.stdout)


def test_published_cases_match():
    cases = json.loads(CASES_FILE.read_text())["cases"]
    got = run_js(cases)
    assert got == [case["expected"] for case in cases]


def _random_label_cases(rng: random.Random, count: int) -> list[dict]:
    cases = []
    thresholds = [0.7, 0.5, 0.1, 0.3, 1.0, 0.95, 2 / 3, 0.33, 0.61, 0.999, 0.05]
    for _ in range(count):
        n = rng.choice([0, 1, 3, 8, 15, 40, 120, 600])
        density = rng.random()
        cases.append({
            "labels": [1 if rng.random() < density else 0 for _ in range(n)],
            "min_frames": rng.choice([1, 2, 3, 4, 5, 10, 30]),
            "threshold": rng.choice(thresholds + [round(rng.uniform(0.01, 1.0), rng.choice([2, 6, 15]))]),
        })
    return cases


def test_random_label_cases_match_python():
    rng = random.Random(20261126)
    cases = _random_label_cases(rng, 400)
    got = run_js(cases)
    expected = [[list(pair) for pair in aggregate(c["labels"], c["min_frames"], c["threshold"])] for c in cases]
    mismatches = [(c, g, e) for c, g, e in zip(cases, got, expected) if g != e]
    assert not mismatches, f"{len(mismatches)} of {len(cases)} differ; first: {mismatches[0]}"
    # The cases are not all trivial: many produce segments.
    assert sum(1 for e in expected if e) > 100


def test_random_probability_cases_match_python_exactly():
    rng = np.random.default_rng(7)
    cases = []
    for _ in range(150):
        n = int(rng.choice([5, 30, 200, 1500]))
        # Smooth bumps like real scores: runs above and below the cut.
        raw = np.convolve(rng.random(n), np.ones(5) / 5, mode="same")
        probabilities = np.clip(raw + rng.normal(0, 0.15, n), 0, 1).astype(np.float32).astype(float).tolist()
        cases.append({
            "probabilities": probabilities,
            "cut": float(rng.choice([0.3, 0.5, 0.55, 0.7, round(float(rng.uniform(0.05, 0.95)), 2)])),
            "min_frames": int(rng.choice([1, 3, 10])),
            "threshold": float(rng.choice([0.5, 0.7, 0.9])),
        })
    got = run_js(cases)
    for case, js in zip(cases, got):
        py = detector.aggregate_probabilities(
            case["probabilities"], cut=case["cut"], min_frames=case["min_frames"], threshold=case["threshold"]
        )
        assert js == [[s.start_s, s.end_s, s.confidence] for s in py], case


def test_bad_parameters_are_refused_like_python():
    got = run_js([
        {"labels": [1, 0, 2], "min_frames": 1, "threshold": 0.5},
        {"labels": [1, 1], "min_frames": 0, "threshold": 0.5},
        {"labels": [1, 1], "min_frames": 1, "threshold": 0},
        {"labels": [1, 1], "min_frames": 1, "threshold": 1.5},
    ])
    assert all(isinstance(item, dict) and item["error"] for item in got)
    for labels, m, t in [([1, 0, 2], 1, 0.5), ([1, 1], 0, 0.5), ([1, 1], 1, 0), ([1, 1], 1, 1.5)]:
        with pytest.raises(ValueError):
            aggregate(labels, m, t)
