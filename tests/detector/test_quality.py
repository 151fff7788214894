"""Cross-validation over groups, calibrated cuts, curves, temporal smoothing, and the quality benchmark."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

import detector
from detector.errors import DetectorError
from detector.head import SceneModel, score, smooth_runs
from detector.metrics import binary_metrics
from detector.quality import (
    SceneMatch, bootstrap_interval, interval_iou, match_scenes,
    best_f1_cut, calibrated_cut, cross_validate, false_alarms_per_10_min, group_folds, precision_recall_curve,
)
from tests.detector.test_train import grouped_data

REPO = Path(__file__).resolve().parents[2]


def test_folds_keep_groups_whole_and_spread_scene_groups():
    x, y, g = grouped_data(n_groups=20)
    folds = group_folds(y, g, k=5, seed=0)
    assert set(folds) == set(np.unique(g).tolist()) and set(folds.values()) == set(range(5))
    for f in range(5):
        members = [gid for gid, fold in folds.items() if fold == f]
        assert {int(y[g == gid][0]) for gid in members} == {0, 1}
    assert group_folds(y, g, k=5, seed=0) == folds and group_folds(y, g, k=5, seed=1) != folds


def test_cross_validate_counts_and_learns_separable_groups():
    x, y, g = grouped_data(n_groups=20)
    result = detector.cross_validate(x, y, g, backbone_set="test", image_dim=16, k=4, train_options={"epochs": 60})
    assert result.n_folds == 4 and result.n_groups == 20 and result.n_scene_groups == 10
    assert result.n_seconds == y.size and result.n_scene_seconds == int(y.sum())
    assert result.f1 == 1.0 and result.false_alarms_per_10_min == 0.0 and result.enough
    assert not np.isnan(result.probabilities).any()
    # every group was scored by a model that never saw it: its fold holds all its seconds
    for gid in np.unique(g):
        assert np.unique(result.folds[g == gid]).size == 1
    assert 0.5 <= result.cut < 1.0
    assert json.loads(json.dumps(result.to_json()))["n_groups"] == 20


def test_cross_validate_on_noise_is_not_flattering():
    rng = np.random.default_rng(0)
    x, y, g = grouped_data(n_groups=20)
    x = rng.normal(size=x.shape).astype(np.float32)  # the labels say nothing about these features
    result = cross_validate(x, y, g, backbone_set="test", image_dim=16, k=5)
    assert result.f1 < 0.8


def test_cross_validate_warns_on_too_few_groups_and_needs_both_labels():
    x, y, g = grouped_data(n_groups=4)
    result = cross_validate(x, y, g, backbone_set="test", image_dim=16)
    assert not result.enough and any("too few" in w for w in result.warnings) and result.n_folds == 4
    with pytest.raises(DetectorError, match="both labels"):
        cross_validate(x, np.zeros_like(y), g, backbone_set="test", image_dim=16)


def test_calibrated_cut_separates_and_never_goes_below_the_floor():
    y = np.array([0, 0, 0, 1, 1, 1])
    p = np.array([0.1, 0.6, 0.7, 0.8, 0.9, 0.95])
    assert calibrated_cut(y, p) == pytest.approx(0.75)  # halfway between the last negative and first positive
    assert calibrated_cut(y, np.array([0.1, 0.2, 0.3, 0.35, 0.4, 0.45])) == 0.5
    assert calibrated_cut(np.array([0, 1]), np.array([0.2, 0.7])) >= 0.5


def test_precision_recall_curve_matches_brute_force():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 200)
    p = np.round(rng.random(200), 2)
    curve = precision_recall_curve(y, p)
    for cut, precision, recall in zip(curve["cut"], curve["precision"], curve["recall"]):
        flagged = p >= cut
        assert precision == pytest.approx((y[flagged] == 1).mean())
        assert recall == pytest.approx(flagged[y == 1].mean())
    best = best_f1_cut(y, p)
    assert best["f1"] == pytest.approx(max(curve["f1"]))
    assert false_alarms_per_10_min(np.array([0] * 1200), np.array([1] + [0] * 1199)) == 0.5


def test_smoothing_is_a_centred_mean_within_runs_only():
    values = np.arange(8, dtype=np.float64)
    runs = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    smoothed = smooth_runs(values, 3, runs)
    expected = [0.5, 1, 2, 2.5, 4.5, 5, 6, 6.5]
    np.testing.assert_allclose(smoothed, expected)
    np.testing.assert_allclose(smooth_runs(values, 3), [0.5, 1, 2, 3, 4, 5, 6, 6.5])


def test_score_smooths_only_when_the_card_asks():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 4)).astype(np.float32)
    weight = rng.normal(size=(2, 4)).astype(np.float32)
    bias = np.array([0.1, -0.2], np.float32)
    plain = SceneModel(weight=weight, bias=bias, card={})
    margin = x.astype(np.float64) @ (weight[1].astype(np.float64) - weight[0]) + (bias[1] - bias[0])
    np.testing.assert_allclose(score(x, plain), 1 / (1 + np.exp(-margin)), rtol=1e-5)
    smoothing = SceneModel(weight=weight, bias=bias, card={"scoring": {"smooth_s": 3}})
    np.testing.assert_allclose(score(x, smoothing), 1 / (1 + np.exp(-smooth_runs(margin, 3))), rtol=1e-5)
    assert not np.allclose(score(x, smoothing), score(x, plain))


def _pooled_f1(units):
    y = np.concatenate([u[0] for u in units])
    p = np.concatenate([u[1] for u in units])
    return binary_metrics(y, p)["f1"] if y.any() else float("nan")


def test_bootstrap_of_a_perfect_scorer_is_one_with_a_degenerate_interval():
    units = [(np.array([1, 1, 0]), np.array([1, 1, 0])), (np.array([0, 0]), np.array([0, 0])),
             (np.array([1, 0, 0, 0]), np.array([1, 0, 0, 0]))]
    interval = bootstrap_interval(units, _pooled_f1, resamples=200, seed=3)
    assert interval["low"] == interval["high"] == 1.0
    # draws of only the all-negative source leave F1 undefined: left out and counted
    assert 0 < interval["defined"] <= 200 and interval["resamples"] == 200 and interval["seed"] == 3


def test_bootstrap_interval_spans_the_sources_and_is_seeded():
    # source A is perfect, source B misses every scene second: F1 of a draw depends on which sources it holds
    units = [(np.array([1, 1, 0]), np.array([1, 1, 0])), (np.array([1, 1, 0]), np.array([0, 0, 0]))]
    interval = bootstrap_interval(units, _pooled_f1, resamples=500, seed=0)
    assert interval["low"] == 0.0 and interval["high"] == 1.0 and interval["defined"] == 500
    assert bootstrap_interval(units, _pooled_f1, resamples=500, seed=0) == interval
    three = units + [(np.array([1, 1, 0]), np.array([1, 1, 0]))]
    assert bootstrap_interval(three, _pooled_f1, resamples=500, seed=0, level=0.5)["low"] > 0.0
    with pytest.raises(ValueError):
        bootstrap_interval(units, _pooled_f1, resamples=0)


def test_interval_iou_by_hand():
    assert interval_iou((10, 14), (11, 15)) == pytest.approx(3 / 5)
    assert interval_iou((0, 2), (2, 4)) == 0.0
    assert interval_iou((0, 10), (0, 10)) == 1.0


def test_scene_matching_counts_found_false_and_unjudged_scenes():
    truth = [(10.0, 14.0), (30.0, 33.0)]
    labelled = [(0.0, 20.0), (30.0, 33.0)]  # 20..30 and after 33 nobody labelled
    detected = [
        (11.0, 15.0),  # IoU 0.6 with the first kiss, but the next scene overlaps it more: false (one per kiss)
        (11.5, 14.0),  # IoU 0.625 with the first kiss: found
        (0.0, 3.0),  # on labelled not-kiss seconds: false
        (21.0, 28.0),  # on unlabelled seconds: judges nothing
        (32.0, 45.0),  # overlaps the second kiss with IoU 1/15 < 0.3, mostly unlabelled: unjudged
    ]
    match = match_scenes(truth, detected, labelled=labelled)
    assert (match.n_truth, match.n_detected, match.matched, match.false_scenes, match.unjudged) == (2, 5, 1, 2, 2)
    assert match.recall == 0.5 and match.precision == pytest.approx(1 / 3)
    # with the whole file labelled every unmatched scene is false
    assert match_scenes(truth, detected).false_scenes == 4
    # the IoU floor is the rule: 0.3 finds a scene overlapping by 3 of 10 seconds, 0.31 does not
    assert match_scenes([(0.0, 10.0)], [(7.0, 10.0)]).matched == 1
    assert match_scenes([(0.0, 10.0)], [(7.0, 10.0)], min_iou=0.31).matched == 0
    total = match + SceneMatch(1, 0, 0, 0, 0)
    assert total.n_truth == 3 and total.recall == pytest.approx(1 / 3)
    assert np.isnan(SceneMatch(0, 0, 0, 0, 0).recall) and np.isnan(SceneMatch(0, 0, 0, 0, 0).precision)
