"""Held-out measures: per second and per segment (temporal IoU >= 0.5)."""

from __future__ import annotations

import numpy as np
import pytest

from kissweb.training.evaluation import per_second_metrics, segment_metrics, segment_metrics_total, temporal_iou


def test_per_second_metrics_and_confusion():
    labels = np.array([1, 1, 1, 0, 0, 0, 0, 1])
    probs = np.array([0.9, 0.6, 0.2, 0.7, 0.1, 0.49, 0.5, 0.5])
    m = per_second_metrics(labels=labels, probabilities=probs, cut=0.5)
    assert m["confusion"] == [[2, 2], [1, 3]]
    assert m["precision"] == pytest.approx(3 / 5) and m["recall"] == pytest.approx(3 / 4)
    assert m["f1"] == pytest.approx(2 * 0.6 * 0.75 / 1.35) and m["accuracy"] == pytest.approx(5 / 8)


def test_no_predicted_positives_gives_zero_not_an_error():
    m = per_second_metrics(labels=np.array([1, 0]), probabilities=np.array([0.1, 0.1]), cut=0.5)
    assert (m["precision"], m["recall"], m["f1"]) == (0.0, 0.0, 0.0)


@pytest.mark.parametrize(
    ("a", "b", "iou"),
    [((0, 10), (0, 10), 1.0), ((0, 10), (5, 15), 5 / 15), ((0, 10), (10, 20), 0.0), ((0, 10), (2, 7), 0.5)],
)
def test_temporal_iou(a, b, iou):
    assert temporal_iou(a, b) == pytest.approx(iou)


def test_segments_count_as_found_at_iou_half_and_are_judged_only_where_people_labelled():
    positives = [(10, 20), (50, 60)]
    labelled = [*positives, (30, 40)]
    detected = [
        (12, 20),  # IoU 0.8 with (10, 20): found
        (32, 38),  # inside a negative span: a false detection
        (45, 65),  # IoU 0.5 with (50, 60): found (the boundary counts)
        (80, 90),  # where nobody looked: not judged
    ]
    m = segment_metrics(detected=detected, positives=positives, labelled=labelled)
    assert m == {"n_detected": 3, "n_found": 2, "n_positive_spans": 2, "n_recalled": 2}
    total = segment_metrics_total([m, segment_metrics(detected=[(0, 3)], positives=[(0, 10)], labelled=[(0, 10)])])
    assert total["segment_precision"] == pytest.approx(2 / 4) and total["segment_recall"] == pytest.approx(2 / 3)
