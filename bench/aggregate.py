"""Benchmark: Algorithm 1 (detector.aggregate.aggregate) on 10,800 labels (a 3-hour movie), median of many runs.

Run: .venv/bin/python bench/aggregate.py [--runs 200]
Inputs: random labels at several densities (the worst case for candidate counts) and a realistic movie
(mostly 0 with a few dozen noisy scenes). Prints one line per input and the worst median.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from detector.aggregate import aggregate  # noqa: E402

N = 10_800


def realistic_movie(rng: np.random.Generator) -> np.ndarray:
    labels = (rng.random(N) < 0.04).astype(np.int8)  # scattered false positives
    for start in rng.choice(N - 120, size=40, replace=False):
        length = int(rng.integers(8, 90))
        labels[start : start + length] = (rng.random(length) < 0.85).astype(np.int8)
    return labels


def time_one(labels: np.ndarray, runs: int) -> tuple[float, float, int]:
    aggregate(labels, 10, 0.7)  # warm-up
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        pairs = aggregate(labels, 10, 0.7)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000, max(samples) * 1000, len(pairs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    inputs = {f"random p={p}": (rng.random(N) < p).astype(np.int8) for p in (0.3, 0.5, 0.7, 0.9)}
    inputs["all ones"] = np.ones(N, dtype=np.int8)
    inputs["realistic movie"] = realistic_movie(rng)
    worst = 0.0
    for name, labels in inputs.items():
        median_ms, max_ms, segments = time_one(labels, args.runs)
        worst = max(worst, median_ms)
        print(f"{name:>16}: median {median_ms:6.2f} ms  max {max_ms:6.2f} ms  ({segments} segments, {args.runs} runs)")
    print(f"worst median over inputs: {worst:.2f} ms for {N} labels (target <= 20 ms)")


if __name__ == "__main__":
    main()
