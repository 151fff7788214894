"""Per-second metrics and per-clip summaries."""

from __future__ import annotations

import numpy as np
import pytest

from detector.metrics import average_precision, binary_metrics, group_results


def test_binary_metrics_by_hand():
    labels = np.array([1, 1, 1, 0, 0, 0, 0, 1])
    preds = np.array([1, 1, 0, 0, 1, 0, 0, 0])
    m = binary_metrics(labels, preds)
    # tp=2 fp=1 fn=2 tn=3
    assert m["confusion"] == [[3, 1], [2, 2]]
    assert m["accuracy"] == pytest.approx(5 / 8)
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["recall"] == pytest.approx(2 / 4)
    assert m["f1"] == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    assert m["n_seconds"] == 8


def test_no_predicted_scenes_gives_zero_not_an_error():
    m = binary_metrics(np.array([1, 0]), np.array([0, 0]))
    assert m["precision"] == 0.0 and m["recall"] == 0.0 and m["f1"] == 0.0 and m["accuracy"] == 0.5


def test_length_mismatch_is_refused():
    with pytest.raises(ValueError):
        binary_metrics(np.array([1, 0]), np.array([1]))


def test_group_results_one_row_per_group():
    groups = np.array([5, 5, 5, 9, 9])
    labels = np.array([1, 1, 1, 0, 0])
    probs = np.array([0.9, 0.8, 0.2, 0.6, 0.1])
    rows = group_results(groups, labels, probs)
    assert [r["group"] for r in rows] == [5, 9]
    assert rows[0]["label"] == 1 and rows[0]["n_seconds"] == 3
    assert rows[0]["mean_score"] == pytest.approx(1.9 / 3, abs=1e-6)
    assert rows[0]["predicted"] == 1 and rows[0]["second_accuracy"] == pytest.approx(2 / 3, abs=1e-6)
    assert rows[1]["predicted"] == 0 and rows[1]["second_accuracy"] == pytest.approx(0.5)


def test_average_precision_by_hand():
    # ranked: 1 (P 1/1), 0, 1 (P 2/3), 0 -> (1 + 2/3) / 2
    assert average_precision(np.array([1, 0, 1, 0]), np.array([0.9, 0.8, 0.7, 0.1])) == pytest.approx(5 / 6)
    # a perfect ranking is 1 whatever the scores' scale
    assert average_precision(np.array([0, 1, 1, 0]), np.array([0.01, 0.03, 0.02, 0.001])) == 1.0
    # tied scores enter together: both seconds at one cut, precision 1/2 at recall 1
    assert average_precision(np.array([1, 0]), np.array([0.5, 0.5])) == pytest.approx(0.5)
    # the worst ranking: the scene second last of 4
    assert average_precision(np.array([0, 0, 0, 1]), np.array([0.9, 0.8, 0.7, 0.1])) == pytest.approx(1 / 4)


def test_average_precision_without_scene_seconds_is_undefined_and_lengths_must_agree():
    assert np.isnan(average_precision(np.array([0, 0]), np.array([0.2, 0.9])))
    with pytest.raises(ValueError):
        average_precision(np.array([0, 1]), np.array([0.2]))
