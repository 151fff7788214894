"""The `published` backbone set: a published-layout model.pkl becomes one self-contained model file whose scores
equal a plain forward pass of the pickled modules on the same frames and log-mel patches."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from detector.api import detect
from detector.embed import embed_video
from detector.errors import DetectorError, ModelFileError
from detector.head import BACKBONE_PREFIX, load_backbone_tensors, load_model, save_model
from detector.reference import import_reference_file, import_reference_model
from tests.mediagen import make_video
from tests.published_model import film_inputs, published_features, published_probabilities, write_published_pickle

TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def film(tmp_path_factory):
    return make_video(
        tmp_path_factory.mktemp("film") / "film.mp4", duration_s=6.0, size="320x240",
        audio="sine=frequency=330:beep_factor=3:sample_rate=44100",
    )


@pytest.fixture(scope="module")
def published(tmp_path_factory, film):
    folder = tmp_path_factory.mktemp("published")
    module, pickle_path = write_published_pickle(folder / "model.pkl", seed=0, calibrate_on=film)
    model_path = import_reference_file(pickle_path, folder / "published.safetensors")
    return module, pickle_path, model_path


def plain_forward(module, film, channel_order="BGR"):
    return published_probabilities(module, *film_inputs(film), channel_order=channel_order)


def test_model_file_is_self_contained_with_a_published_card(published):
    module, pickle_path, model_path = published
    model = load_model(model_path, verify_backbones=True)
    card = model.card
    assert (model.backbone_set, model.channel_order, card["image_dim"], card["audio_dim"]) == ("published", "BGR", 512, 128)
    assert card["backbones"]["fine_tuned"] is True
    assert "centre crop 224" in card["preprocessing"]["image"] and "RandomResizedCrop" in card["preprocessing"]["image"]
    assert len(card["training"]["source_sha256"]) == 64
    assert not list(model_path.parent.glob("*.backbones.safetensors"))  # nothing beside it is needed
    tensors = load_backbone_tensors(model)
    state = module.state_dict()
    assert set(tensors) == {name for name in state if not name.startswith("combined.")}
    np.testing.assert_array_equal(tensors["vggish.embeddings.4.weight"], state["vggish.embeddings.4.weight"].numpy())
    assert model.backbone_digest == card["backbones"]["sha256"] and len(model.backbone_digest) == 64


def test_scores_equal_a_plain_forward_pass_of_the_pickled_modules(published, film):
    module, _, model_path = published
    result = detect(film, model=model_path, device="cpu")
    expected = plain_forward(module, film)
    assert result.backbone_set == "published" and result.scores.shape == expected.shape == (6,)
    assert np.abs(result.scores - expected).max() < TOLERANCE, (result.scores, expected)
    assert expected.std() > 0.01, expected  # the comparison means something: the scores vary over the film
    # and it can fail: the same modules fed RGB frames (the paper/app default) score differently
    assert np.abs(plain_forward(module, film, channel_order="RGB") - expected).max() > 10 * TOLERANCE


def test_embeddings_equal_the_pickled_trunks_and_say_which_backbones_made_them(published, film):
    module, _, model_path = published
    model = load_model(model_path)
    embeddings = embed_video(film, model=model, device="cpu", batch_size=4)
    assert (embeddings.backbone_set, embeddings.backbone_digest) == ("published", model.backbone_digest)
    assert embeddings.channel_order == "BGR" and embeddings.image.shape == (6, 512) and embeddings.audio.shape == (6, 128)
    image, audio = (t.numpy() for t in published_features(module, *film_inputs(film)))
    for got, want in ((embeddings.image, image), (embeddings.audio, audio)):
        assert np.linalg.norm(got - want) / np.linalg.norm(want) < 1e-5
    with pytest.raises(DetectorError, match="model=FILE"):
        embed_video(film, backbones="published")
    with pytest.raises(DetectorError, match="'published' features"):
        embed_video(film, model=model, backbones="paper")


def test_cli_detect_runs_the_model_on_its_own_backbones(published, film, tmp_path, monkeypatch):
    _, _, model_path = published
    # no paper weights anywhere: the published model must not need them
    monkeypatch.setenv("KISSWEB_WEIGHTS_DIR", str(tmp_path / "none"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "none"))
    done = subprocess.run(
        [sys.executable, "-m", "detector", "detect", str(film), "--model", str(model_path), "--device", "cpu"],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    direct = detect(film, model=model_path, device="cpu")
    assert payload["backbone_set"] == "published"
    np.testing.assert_allclose(payload["scores"], direct.scores, atol=1e-5)


def test_damaged_backbone_tensors_are_refused(published, tmp_path):
    _, pickle_path, _ = published
    model, backbones = import_reference_model(pickle_path)
    backbones["conv.conv1.weight"] = backbones["conv.conv1.weight"] + 1.0
    with pytest.raises(ModelFileError, match="digest"):
        save_model(model, tmp_path / "tampered.safetensors", backbone_tensors=backbones)
    path = save_model(model, tmp_path / "bare.safetensors", backbone_tensors=import_reference_model(pickle_path)[1])
    _flip_a_byte_in(path, BACKBONE_PREFIX + "conv.conv1.weight")
    damaged = load_model(path)  # the head still reads; the backbones are checked when used
    with pytest.raises(ModelFileError, match="damaged"):
        load_backbone_tensors(damaged)
    with pytest.raises(ModelFileError, match="damaged"):
        load_model(path, verify_backbones=True)


def test_a_pickle_whose_trunks_do_not_fit_is_refused(tmp_path):
    module, _ = write_published_pickle(tmp_path / "ok.pkl", seed=1)
    module.vggish.embeddings[4] = torch.nn.Linear(4096, 64)
    torch.save(module, tmp_path / "odd.pkl")
    with pytest.raises(ModelFileError, match="VGGish"):
        import_reference_model(tmp_path / "odd.pkl")


def _flip_a_byte_in(path, tensor_name):
    raw = bytearray(path.read_bytes())
    length = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + length])
    start = 8 + length + header[tensor_name]["data_offsets"][0]
    raw[start + 3] ^= 0x40
    path.write_bytes(bytes(raw))


def test_evaluate_scores_clips_on_the_models_own_backbones(published, film, tmp_path):
    from detector.evaluate import evaluate_from_csv

    _, _, model_path = published
    clips = tmp_path / "clips.csv"
    clips.write_text(f"path,label\n{film},1\n")
    model = load_model(model_path)
    metrics = evaluate_from_csv(clips, model, cache_dir=tmp_path / "cache", device="cpu", cut=0.5)
    expected = detect(film, model=model, device="cpu").scores
    assert metrics["per_clip"][0]["n_seconds"] == 6
    assert metrics["per_clip"][0]["mean_score"] == pytest.approx(float(expected.mean()), abs=1e-4)
