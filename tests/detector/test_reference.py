"""Importing the published model.pkl: a restricted unpickler that reads tensors and refuses code."""

from __future__ import annotations

import os
import pickle
import subprocess

import numpy as np
import pytest
import torch
from torch import nn
from torchvision.models import resnet18

from detector.errors import ModelFileError
from detector.head import load_model, score
from detector.reference import import_reference_file, import_reference_model
from tests.published_model import write_published_pickle


class VGGish(nn.Module):
    """The published VGGish's layout (features + embeddings Sequentials), shrunk: for the refusal tests, which must
    fail before the trunks are looked at (tests.published_model has the full-size layout)."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3, 1, 1), nn.ReLU(inplace=True), nn.MaxPool2d(2, 2))
        self.embeddings = nn.Sequential(nn.Linear(4 * 48 * 32, 128), nn.ReLU(inplace=True))


class KissingDetector(nn.Module):
    """The published class layout: conv (ResNet-18, fc = Identity), vggish, combined = Linear(640, 2)."""

    def __init__(self):
        super().__init__()
        conv = resnet18(weights=None)
        conv.fc = nn.Identity()
        self.conv_input_size = 224
        self.conv = conv
        self.vggish = VGGish()
        self.combined = nn.Linear(512 + 128, 2)


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    return write_published_pickle(tmp_path_factory.mktemp("ref") / "model.pkl", seed=0)


def test_import_reads_the_combined_head_with_bgr_card(published):
    module, path = published
    model, backbones = import_reference_model(path)
    np.testing.assert_array_equal(model.weight, module.combined.weight.detach().numpy())
    np.testing.assert_array_equal(model.bias, module.combined.bias.detach().numpy())
    card = model.card
    assert (card["backbone_set"], card["channel_order"], card["image_dim"], card["audio_dim"]) == (
        "published", "BGR", 512, 128)
    state = module.state_dict()
    assert set(backbones) == {k for k in state if not k.startswith("combined.")}
    np.testing.assert_array_equal(backbones["conv.layer1.0.conv1.weight"], state["conv.layer1.0.conv1.weight"].numpy())
    np.testing.assert_array_equal(backbones["conv.bn1.running_var"], state["conv.bn1.running_var"].numpy())


def test_converted_file_scores_like_the_published_head(published, tmp_path):
    module, path = published
    written = import_reference_file(path, tmp_path / "reference.safetensors")
    loaded = load_model(written)
    assert loaded.card["channel_order"] == "BGR"
    assert (tmp_path / "reference.card.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reference.card.json", "reference.safetensors"]
    image = torch.randn(5, 512)
    audio = torch.randn(5, 128)
    with torch.no_grad():
        expected = torch.softmax(module.combined(torch.cat((image, audio), dim=1)), dim=1)[:, 1].numpy()
    got = score(np.concatenate([image.numpy(), audio.numpy()], axis=1), loaded)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_legacy_torch_format_imports_too(published, tmp_path, recwarn):
    module, _ = published
    path = tmp_path / "model.pkl"
    torch.save(module, path, _use_new_zipfile_serialization=False)
    model, backbones = import_reference_model(path)
    np.testing.assert_array_equal(model.weight, module.combined.weight.detach().numpy())
    assert len(backbones) == len(module.state_dict()) - 2
    assert not [w for w in recwarn if "source code" in str(w.message)]


class RunsCommand:
    def __init__(self, function, argument):
        self.function, self.argument = function, argument

    def __reduce__(self):
        return (self.function, (self.argument,))


@pytest.mark.parametrize("how", ["os.system", "builtins.eval", "subprocess", "plain pickle"])
def test_malicious_pickles_are_refused_and_never_run(tmp_path, how):
    marker = tmp_path / "pwned"
    command = f"touch {marker}"
    if how == "os.system":
        payload = RunsCommand(os.system, command)
    elif how == "builtins.eval":
        payload = RunsCommand(eval, f"open({str(marker)!r}, 'w').close()")
    else:
        payload = RunsCommand(subprocess.check_call, ["touch", str(marker)])
    module = KissingDetector()
    module.extra = payload  # hidden inside an otherwise well-formed model
    path = tmp_path / "model.pkl"
    if how == "plain pickle":
        path.write_bytes(pickle.dumps(RunsCommand(os.system, command), protocol=2))
    else:
        torch.save(module, path)
    with pytest.raises(ModelFileError, match="refused") as error:
        import_reference_model(path)
    assert "Nothing in it was executed" in str(error.value)
    assert not marker.exists()


def test_not_a_detector_and_garbage_are_clear_errors(tmp_path):
    plain = tmp_path / "weights.pt"
    torch.save({"combined.weight": torch.zeros(2, 640)}, plain)
    with pytest.raises(ModelFileError, match="not a pickled KissingDetector"):
        import_reference_model(plain)
    wrong = tmp_path / "wrong.pkl"
    module = KissingDetector()
    module.combined = nn.Linear(600, 2)
    torch.save(module, wrong)
    with pytest.raises(ModelFileError, match="Linear\\(640, 2\\)"):
        import_reference_model(wrong)
    garbage = tmp_path / "garbage.pkl"
    garbage.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ModelFileError, match="not a readable"):
        import_reference_model(garbage)
    with pytest.raises(ModelFileError, match="does not exist"):
        import_reference_model(tmp_path / "absent.pkl")
