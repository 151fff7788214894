"""Model files (safetensors + card) and scoring."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from detector.errors import ModelFileError
from detector.head import SceneModel, card_path, load_model, make_card, save_model, score


def random_model(image_dim=6, audio_dim=4, seed=0, channel_order="RGB") -> SceneModel:
    rng = np.random.default_rng(seed)
    return SceneModel(
        weight=rng.normal(size=(2, image_dim + audio_dim)).astype(np.float32),
        bias=rng.normal(size=2).astype(np.float32),
        card=make_card(
            scene_type="kissing", backbone_set="offline", image_dim=image_dim, audio_dim=audio_dim,
            channel_order=channel_order, training={"n_groups": 3}, metrics={"validation": {"f1": 0.5}},
        ),
    )


def test_round_trip_keeps_tensors_and_card(tmp_path):
    model = random_model(channel_order="BGR")
    path = save_model(model, tmp_path / "kiss")
    assert path.name == "kiss.safetensors"
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.weight, model.weight)
    np.testing.assert_array_equal(loaded.bias, model.bias)
    assert loaded.card == model.card
    assert loaded.card["channel_order"] == "BGR"
    assert json.loads(card_path(path).read_text()) == model.card
    assert not any(p.name.endswith(".partial") for p in tmp_path.iterdir())


def test_score_is_softmax_class_one():
    model = random_model()
    features = np.random.default_rng(1).normal(size=(50, 10)).astype(np.float32)
    logits = features.astype(np.float64) @ model.weight.T.astype(np.float64) + model.bias
    expected = np.exp(logits[:, 1]) / np.exp(logits).sum(axis=1)
    got = score(features, model)
    assert got.dtype == np.float32 and got.shape == (50,)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)


def test_score_does_not_overflow_on_huge_logits():
    model = random_model()
    features = np.full((2, 10), 1e6, dtype=np.float32)
    features[1] *= -1
    got = score(features, model)
    assert np.all(np.isfinite(got)) and set(np.round(got).tolist()) <= {0.0, 1.0}


def test_score_refuses_wrong_feature_width():
    with pytest.raises(ModelFileError, match="expects 10 features"):
        score(np.zeros((3, 11), np.float32), random_model())


def test_missing_file_says_how_to_get_one(tmp_path):
    with pytest.raises(ModelFileError, match="import-reference-model"):
        load_model(tmp_path / "nope.safetensors")


def test_pickle_is_refused_without_unpickling(tmp_path):
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(ModelFileError, match="pickle"):
        load_model(path)
    assert not marker.exists()


def test_garbage_and_cardless_files_are_refused(tmp_path):
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}......")
    with pytest.raises(ModelFileError, match="not a readable"):
        load_model(garbage)

    from safetensors.numpy import save_file

    cardless = tmp_path / "cardless.safetensors"
    save_file({"weight": np.zeros((2, 3), np.float32), "bias": np.zeros(2, np.float32)}, str(cardless))
    with pytest.raises(ModelFileError, match="no model card"):
        load_model(cardless)


def test_card_must_match_weight_width(tmp_path):
    from safetensors.numpy import save_file

    model = random_model()
    path = tmp_path / "bad.safetensors"
    card = dict(model.card, image_dim=7)
    save_file({"weight": model.weight, "bias": model.bias}, str(path), metadata={"card": json.dumps(card)})
    with pytest.raises(ModelFileError, match="7 image"):
        load_model(path)


def _model_file_with_header_length(tmp_path, target: int):
    """A real model file whose safetensors header is exactly `target` bytes long (padding a card field)."""
    model = random_model()
    low, high = 0, target
    while low <= high:  # the header grows by one byte per padding character, rounded up to a multiple of 8
        padding = (low + high) // 2
        model.card["training"]["padding"] = "x" * padding
        path = save_model(model, tmp_path / f"h{target}.safetensors")
        length = int.from_bytes(path.read_bytes()[:8], "little")
        if length == target:
            return path, model
        low, high = (padding + 1, high) if length < target else (low, padding - 1)
    raise AssertionError(f"no padding gives a {target}-byte header")


@pytest.mark.parametrize("target, first_bytes", [
    (0x0E80, b"\x80\x0e"),  # the held-back run's case: the first byte is the pickle protocol marker
    (0x1080, b"\x80\x10"),
    (0x0E50, b"\x50\x0e"),  # 'P'
    (0x4B50, b"PK"),  # a zip archive's magic
])
def test_safetensors_is_recognised_by_its_header_not_its_first_bytes(tmp_path, target, first_bytes):
    from detector.head import looks_like_safetensors

    path, model = _model_file_with_header_length(tmp_path, target)
    assert path.read_bytes()[:2] == first_bytes
    assert looks_like_safetensors(path)
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.weight, model.weight)
    assert loaded.card == model.card


def test_a_header_length_that_does_not_fit_the_file_is_not_safetensors(tmp_path):
    from detector.head import looks_like_safetensors

    too_long = tmp_path / "too-long.safetensors"
    too_long.write_bytes((10_000).to_bytes(8, "little") + b'{"a": 1}')
    assert not looks_like_safetensors(too_long)
    with pytest.raises(ModelFileError, match="not a readable safetensors"):
        load_model(too_long)
    zipped = tmp_path / "model.pt"
    zipped.write_bytes(b"PK\x03\x04" + b"\x00" * 64)  # torch.save's zip: the length would not fit the file
    with pytest.raises(ModelFileError, match="pickle/PyTorch"):
        load_model(zipped)
