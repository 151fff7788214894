"""The backbone sets: architectures, dimensions, seeded random weights, the shipped offline weights."""

from __future__ import annotations

import pytest
import torch

from detector.backbones import BACKBONE_DIMS, EFFICIENTNET_LITE0, EFFICIENTNET_LITE1
from detector.constants import EFFICIENTNET_LITE_MEAN, IMAGENET_MEAN
from detector.networks import load_backbones
from detector.errors import MissingWeightsError
from detector.vggish import VGGish


def test_vggish_has_the_published_architecture():
    net = VGGish()
    convs = [m for m in net.features if isinstance(m, torch.nn.Conv2d)]
    pools = [m for m in net.features if isinstance(m, torch.nn.MaxPool2d)]
    assert [c.out_channels for c in convs] == [64, 128, 256, 256, 512, 512] and len(pools) == 4
    linears = [m for m in net.embeddings if isinstance(m, torch.nn.Linear)]
    assert [(l.in_features, l.out_features) for l in linears] == [(512 * 6 * 4, 4096), (4096, 4096), (4096, 128)]
    # the torchvggish state dict (vggish-10086976.pth, 288,567,937 bytes) holds exactly these tensors
    assert sum(p.numel() for p in net.parameters()) == 72_141_184
    assert sorted(net.state_dict())[:2] == ["embeddings.0.bias", "embeddings.0.weight"]


def test_vggish_flattens_in_tensorflow_order():
    net = VGGish().eval()
    patch = torch.randn(2, 96, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        pooled = net.features(patch[:, None])
        hwc = net.embeddings(pooled.permute(0, 2, 3, 1).flatten(1))
        chw = net.embeddings(pooled.flatten(1))
        out = net(patch)
    torch.testing.assert_close(out, hwc)
    assert not torch.allclose(out, chw)


@pytest.mark.parametrize("name", ["paper", "offline"])
def test_dimensions_per_set(name):
    nets = load_backbones(name, "cpu", True)
    with torch.inference_mode():
        image = nets.image_net(torch.zeros(2, 3, 224, 224).contiguous(memory_format=torch.channels_last))
        audio = nets.audio_net(nets.log_mel(torch.zeros(2, 15_600)))
    assert (image.shape[1], audio.shape[1]) == BACKBONE_DIMS[name] == nets.dims


def test_random_weights_are_seeded():
    first = load_backbones("paper", "cpu", True)
    load_backbones.cache_clear()
    second = load_backbones("paper", "cpu", True)
    assert first is not second
    for (name, a), (_, b) in zip(first.image_net.state_dict().items(), second.image_net.state_dict().items()):
        assert torch.equal(a, b), name
    assert torch.equal(first.audio_net.embeddings[4].weight, second.audio_net.embeddings[4].weight)


@pytest.mark.parametrize(("name", "variant", "weights"), [
    ("offline", "lite0", EFFICIENTNET_LITE0), ("lite1", "lite1", EFFICIENTNET_LITE1),
])
def test_the_lite_sets_load_their_shipped_pretrained_weights(name, variant, weights):
    from detector.networks import _efficientnet_lite
    from detector.weights import package_weight_path

    pretrained = load_backbones(name, "cpu", False)
    random = load_backbones(name, "cpu", True)
    stem = pretrained.image_net.net._conv_stem.weight
    assert not torch.equal(stem, random.image_net.net._conv_stem.weight)
    assert pretrained.mean.flatten().tolist() == pytest.approx(EFFICIENTNET_LITE_MEAN)
    raw = torch.load(package_weight_path(weights), weights_only=True)
    assert raw["_bn0.running_var"].mean() != pytest.approx(1.0, abs=0.05)  # trained statistics, not fresh ones
    eps = _efficientnet_lite(variant, weights, True).net._bn0.eps
    scale = raw["_bn0.weight"] / torch.sqrt(raw["_bn0.running_var"] + eps)
    torch.testing.assert_close(stem, raw["_conv_stem.weight"] * scale[:, None, None, None])


@pytest.mark.parametrize("architecture", ["resnet18", "efficientnet_lite0", "efficientnet_lite1"])
def test_folding_batchnorm_keeps_the_outputs(architecture):
    from detector.networks import _efficientnet_lite, _resnet18, fold_batchnorm

    torch.manual_seed(3)
    lite = {"efficientnet_lite0": ("lite0", EFFICIENTNET_LITE0), "efficientnet_lite1": ("lite1", EFFICIENTNET_LITE1)}
    net = (_resnet18(True) if architecture == "resnet18" else _efficientnet_lite(*lite[architecture], True)).eval()
    for module in net.modules():  # non-trivial statistics, so folding has something to get wrong
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.normal_(0, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.normal_(0, 0.2)
    images = torch.randn(2, 3, 224, 224)
    with torch.inference_mode():
        before = net(images)
        after = fold_batchnorm(net)(images)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
    assert ((after - before).norm() / before.norm()) < 1e-5


def test_paper_set_uses_imagenet_statistics_and_needs_its_files(tmp_path, monkeypatch):
    monkeypatch.setenv("KISSWEB_WEIGHTS_DIR", str(tmp_path / "none"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "none"))
    assert load_backbones("paper", "cpu", True).mean.flatten().tolist() == pytest.approx(IMAGENET_MEAN)
    with pytest.raises(MissingWeightsError, match="fetch-weights"):
        load_backbones("paper", "cpu", False)
