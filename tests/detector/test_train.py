"""Training the head: split by group, determinism, learning, small-data handling, CSV reading."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from detector import backbones
from detector.errors import DetectorError
from detector.head import load_model, save_model, score
from detector.metrics import binary_metrics
from detector.dataset import read_items
from detector.train import split_groups, train_head


def grouped_data(n_groups=30, dim=24, shift=6.0, seed=0):
    """Groups of seconds; a group's label moves its features along one direction; seconds in a group are alike."""
    rng = np.random.default_rng(seed)
    direction = rng.normal(size=dim)
    xs, ys, gs = [], [], []
    for group in range(n_groups):
        label = group % 2
        n = int(rng.integers(3, 15))
        centre = rng.normal(size=dim) * 0.5 + (shift if label else -shift) * direction / np.linalg.norm(direction)
        xs.append(centre + rng.normal(size=(n, dim)) * 0.1)
        ys += [label] * n
        gs += [group * 7 + 3] * n  # arbitrary ids
    return np.concatenate(xs).astype(np.float32), np.array(ys), np.array(gs)


def test_split_is_by_group_stratified_and_about_80_10_10():
    x, y, g = grouped_data(n_groups=40)
    split, warnings = split_groups(y, g, seed=0)
    parts = [set(split[name].tolist()) for name in ("train", "validation", "test")]
    assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
    assert set().union(*parts) == set(g.tolist())
    assert [len(p) for p in parts] == [32, 4, 4]
    for name in ("validation", "test"):
        labels_there = {int(y[g == gid][0]) for gid in split[name]}
        assert labels_there == {0, 1}
    assert warnings == []


def test_split_with_few_groups_keeps_one_of_each_class_for_validation_and_test():
    y = np.array([1, 1, 1, 0, 0, 0])
    g = np.array([1, 2, 3, 4, 5, 6])
    split, warnings = split_groups(y, g, seed=1)
    assert {len(split[n]) for n in ("train", "validation", "test")} == {2}
    for name in ("train", "validation", "test"):
        assert sorted(int(y[g == gid][0]) for gid in split[name]) == [0, 1]
    assert warnings == []


def test_split_says_when_there_are_too_few_groups():
    y = np.array([1, 1, 0, 0, 0])
    g = np.array([1, 2, 3, 4, 5])
    split, warnings = split_groups(y, g, seed=0)
    assert len(warnings) == 1 and "2 scene" in warnings[0]
    assert sum(int(y[g == gid][0]) for gid in split["test"]) == 0  # no scene group left for test
    assert len(split["train"]) >= 2


def test_train_head_learns_and_reports_metrics():
    x, y, g = grouped_data()
    model, metrics = train_head(
        x, y, g, recipe="paper", backbone_set="test", scene_type="kissing", image_dim=16, epochs=10
    )
    assert metrics["validation"]["f1"] == 1.0 and metrics["test"]["f1"] == 1.0
    held = np.isin(g, [row["group"] for row in metrics["per_group"] if row["split"] == "test"])
    assert binary_metrics(y[held], score(x[held], model) >= 0.5)["f1"] == metrics["test"]["f1"]
    assert metrics["test"]["n_groups"] == len([r for r in metrics["per_group"] if r["split"] == "test"])
    assert 1 <= metrics["best_epoch"] <= 10
    card = model.card
    assert (card["image_dim"], card["audio_dim"], card["backbone_set"]) == (16, 8, "test")
    assert card["training"]["n_seconds"] == y.size and card["metrics"]["test"]["f1"] == 1.0


def test_train_head_is_deterministic_and_seeded():
    x, y, g = grouped_data(shift=0.2)
    a, _ = train_head(x, y, g, recipe="paper", backbone_set="t", scene_type="k", image_dim=16, seed=3)
    b, _ = train_head(x, y, g, recipe="paper", backbone_set="t", scene_type="k", image_dim=16, seed=3)
    c, _ = train_head(x, y, g, recipe="paper", backbone_set="t", scene_type="k", image_dim=16, seed=4)
    np.testing.assert_array_equal(a.weight, b.weight)
    assert not np.array_equal(a.weight, c.weight)


def test_train_head_keeps_the_best_validation_epoch():
    x, y, g = grouped_data(shift=0.05, seed=5)
    f1_by_epoch = []

    def record(epoch, epochs):
        f1_by_epoch.append(epoch)

    model, metrics = train_head(
        x, y, g, recipe="paper", backbone_set="t", scene_type="k", image_dim=16, epochs=6, progress=record
    )
    assert f1_by_epoch == [1, 2, 3, 4, 5, 6]
    # retraining for exactly best_epoch epochs reproduces the kept weights (same seed, same batches)
    again, _ = train_head(
        x, y, g, recipe="paper", backbone_set="t", scene_type="k", image_dim=16, epochs=metrics["best_epoch"]
    )
    np.testing.assert_allclose(model.weight, again.weight)


def test_progress_exception_stops_training():
    x, y, g = grouped_data()

    def cancel(epoch, epochs):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_head(x, y, g, recipe="paper", backbone_set="t", scene_type="k", image_dim=16, progress=cancel)


def test_one_label_only_is_a_clear_error():
    x, y, g = grouped_data()
    with pytest.raises(DetectorError, match="both labels"):
        train_head(x, np.ones_like(y), g, backbone_set="t", scene_type="k", image_dim=16)


def test_feature_width_must_match_backbone_set():
    x, y, g = grouped_data()
    with pytest.raises(ValueError, match="image_dim"):
        train_head(x, y, g, recipe="paper", backbone_set="paper", scene_type="k")


def test_trained_model_saves_and_loads(tmp_path):
    x, y, g = grouped_data()
    model, _ = train_head(x, y, g, recipe="paper", backbone_set="t", scene_type="kissing", image_dim=16)
    loaded = load_model(save_model(model, tmp_path / "m.safetensors"))
    np.testing.assert_array_equal(score(x, loaded), score(x, model))
    assert loaded.card["metrics"]["per_group"]


def test_read_items_clips_and_spans(tmp_path):
    (tmp_path / "a.mp4").write_bytes(b"x")
    (tmp_path / "b.mp4").write_bytes(b"x")
    clips = tmp_path / "clips.csv"
    clips.write_text("path,label\na.mp4,1\n\nb.mp4,0\n")
    items = read_items(clips, spans=False)
    assert [(i.path.name, i.label, i.start_s) for i in items] == [("a.mp4", 1, None), ("b.mp4", 0, None)]
    spans = tmp_path / "spans.csv"
    spans.write_text(f"{tmp_path / 'a.mp4'},2,7.5,1\n")
    (item,) = read_items(spans, spans=True)
    assert (item.start_s, item.end_s, item.label) == (2.0, 7.5, 1)


@pytest.mark.parametrize(
    "text, spans, message",
    [
        ("a.mp4,2\n", False, "line 1: the label"),
        ("path,label\nmissing.mp4,1\n", False, "line 2: the video"),
        ("a.mp4,5,3,1\n", True, "start_s < end_s"),
        ("a.mp4,1\n", True, "expected 4 or 5 columns"),
    ],
)
def test_read_items_names_the_bad_line(tmp_path, text, spans, message):
    (tmp_path / "a.mp4").write_bytes(b"x")
    csv_path = tmp_path / "data.csv"
    csv_path.write_text(text)
    with pytest.raises(DetectorError, match=message):
        read_items(csv_path, spans=spans)


@pytest.mark.filterwarnings("ignore:Backbone set .* RANDOM weights:UserWarning")
def test_clips_are_embedded_once_and_cached(tmp_path, monkeypatch):
    import detector.embed
    from detector.dataset import items_to_arrays
    from tests.detector.media import make_training_clips

    csv_path = make_training_clips(tmp_path / "clips", per_class=1, duration_s=2.0)
    items = read_items(csv_path, spans=False)
    real = detector.embed.embed_video
    calls = []

    def counting(path, **kwargs):
        calls.append(path)
        return real(path, **kwargs)

    monkeypatch.setattr(detector.embed, "embed_video", counting)
    first = items_to_arrays(items, backbones="offline", cache_dir=tmp_path / "cache")
    assert len(calls) == 2
    second = items_to_arrays(items, backbones="offline", cache_dir=tmp_path / "cache")
    assert len(calls) == 2  # served from the cache
    for a, b in zip(first[:3], second[:3]):
        np.testing.assert_array_equal(a, b)
    assert set(first[2].tolist()) == {0, 1} and first[1].tolist().count(1) == (first[2] == 0).sum()

    offline = backbones.SETS["offline"]  # new pinned weights (another package release): the cache is not used
    monkeypatch.setitem(backbones.SETS, "offline", dataclasses.replace(
        offline, weights=dataclasses.replace(offline.weights, sha256="1" * 64)))
    monkeypatch.setattr(detector.embed, "embed_video", lambda path, **kwargs: calls.append(path) or real(
        path, **{**kwargs, "random_init": True}))
    items_to_arrays(items, backbones="offline", cache_dir=tmp_path / "cache")
    assert len(calls) == 4


def test_spans_take_only_whole_windows_inside(tmp_path):
    from detector.dataset import items_to_arrays
    from tests.detector.media import make_movie

    movie = make_movie(tmp_path / "movie.mp4", [("blue", 220, 4.0), ("red", 880, 4.0)])
    spans = tmp_path / "spans.csv"
    spans.write_text("movie.mp4,0,3.5,0\nmovie.mp4,4,8,1\nmovie.mp4,2.2,2.9,0\n")
    items = read_items(spans, spans=True)
    x, y, g, warnings = items_to_arrays(items, backbones="offline", cache_dir=tmp_path / "cache")
    assert y.tolist() == [0, 0, 0, 1, 1, 1, 1] and g.tolist() == [0, 0, 0, 1, 1, 1, 1]
    assert len(warnings) == 1 and "no whole 1-second window" in warnings[0]
    assert movie.exists()


def test_tiny_data_trains_and_says_what_is_missing():
    x, y, g = grouped_data(n_groups=10)
    keep = (y == 0) | (g == g[y == 1][0])  # one scene clip, five other clips
    model, metrics = train_head(
        x[keep], y[keep], g[keep], recipe="paper", backbone_set="t", scene_type="k", image_dim=16
    )
    assert any("only 1 scene" in w and "no validation or test" in w for w in metrics["warnings"])
    assert metrics["validation"]["n_groups"] == 1 and metrics["validation"]["confusion"][1] == [0, 0]
    assert metrics["train"]["confusion"][1][1] > 0  # the lone scene clip was trained on
