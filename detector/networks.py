"""The backbone sets' networks in torch: build each set's image and audio networks (its loader), put them on a device.

What each set is (dimensions, weights, normalisation) is in detector.backbones, THE registry; a set's loader is here:
`LOADERS[name](random_init)` for a set with weights of its own, `MODEL_FILE_LOADERS[name](tensors)` for a set whose
weights travel inside the model file (`published`: the published model.pkl's fine-tuned ResNet-18 trunk `conv.*`
and VGGish `vggish.*`, flattened channel-first as its VGGish did).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from detector.audio import LogMel, LogMelStats
from detector.backbones import (
    BUILTIN_SETS,
    EFFICIENTNET_LITE0,
    EFFICIENTNET_LITE1,
    MODEL_FILE_SETS,
    RESNET18,
    VGGISH,
    PackageWeights,
    backbone_set,
)
from detector.constants import RANDOM_INIT_SEED
from detector.errors import DetectorError, MissingWeightsError, ModelFileError
from detector.vggish import VGGish
from detector.weights import package_weight_path, verified_weight


@dataclass
class Backbones:
    """Networks of one set on one device, in eval mode. image: (b, 3, 224, 224) normalised -> (b, Di)."""

    name: str
    device: torch.device
    image_net: nn.Module
    audio_net: nn.Module
    log_mel: LogMel
    mean: torch.Tensor  # (1, 3, 1, 1) on device
    std: torch.Tensor
    random_init: bool
    channels_last: bool
    dtype: torch.dtype = torch.float32
    digest: str = ""  # detector.digest: which weights these are (stored embeddings are keyed by set and digest)

    @property
    def dims(self) -> tuple[int, int]:
        return backbone_set(self.name).dims


class _EfficientNetFeatures(nn.Module):
    """An EfficientNet-Lite up to its global average pool: (b, 3, 224, 224) -> (b, 1280)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net.extract_features(images).mean(dim=(2, 3))


def _load_state(path, what: str) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a damaged or foreign file: say which and what to do
        raise MissingWeightsError(f"{path} could not be read as {what} weights ({exc}); fetch or copy it again.") from None


def _strict_load(module: nn.Module, state: dict, path, what: str) -> None:
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise MissingWeightsError(f"{path} does not fit the {what} architecture: {str(exc)[:300]}") from None


def _resnet18(random_init: bool) -> nn.Module:
    import torchvision

    net = torchvision.models.resnet18(weights=None)
    if not random_init:
        path = verified_weight(RESNET18)
        _strict_load(net, _load_state(path, "ResNet-18"), path, "ResNet-18")
    net.fc = nn.Identity()
    return net


def _vggish(random_init: bool) -> nn.Module:
    net = VGGish()
    if not random_init:
        path = verified_weight(VGGISH)
        state = {k: v for k, v in _load_state(path, "VGGish").items() if not k.startswith("pproc")}
        _strict_load(net, state, path, "VGGish")
    return net


def _efficientnet_lite(variant: str, weights: PackageWeights, random_init: bool) -> nn.Module:
    from efficientnet_lite_pytorch import EfficientNet

    net = EfficientNet.from_name(f"efficientnet-{variant}")
    if not random_init:
        path = package_weight_path(weights)
        _strict_load(net, _load_state(path, weights.what), path, weights.what)
    return _EfficientNetFeatures(net)


def _fold(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
    weight, bias = torch.nn.utils.fusion.fuse_conv_bn_weights(
        conv.weight, conv.bias, bn.running_mean, bn.running_var, bn.eps, bn.weight, bn.bias)
    conv.weight, conv.bias = nn.Parameter(weight), nn.Parameter(bias)


def fold_batchnorm(net: nn.Module) -> nn.Module:
    """Inference-only speed-up: fold each BatchNorm into the convolution before it (same outputs to ~1e-6),
    move symmetric 'same' padding into the convolution, and clamp ReLU6 in place (EfficientNet-Lite)."""
    import torchvision

    if isinstance(net, torchvision.models.ResNet):
        _fold(net.conv1, net.bn1)
        net.bn1 = nn.Identity()
        for block in (b for layer in (net.layer1, net.layer2, net.layer3, net.layer4) for b in layer):
            _fold(block.conv1, block.bn1)
            _fold(block.conv2, block.bn2)
            block.bn1, block.bn2 = nn.Identity(), nn.Identity()
            if block.downsample is not None:
                _fold(block.downsample[0], block.downsample[1])
                block.downsample[1] = nn.Identity()
        return net
    if isinstance(net, _EfficientNetFeatures):
        inner = net.net
        pairs = [(inner, "_conv_stem", "_bn0"), (inner, "_conv_head", "_bn1")]
        for block in inner._blocks:
            if hasattr(block, "_expand_conv"):
                pairs.append((block, "_expand_conv", "_bn0"))
            pairs += [(block, "_depthwise_conv", "_bn1"), (block, "_project_conv", "_bn2")]
        for owner, conv_name, bn_name in pairs:
            conv = getattr(owner, conv_name)
            _fold(conv, getattr(owner, bn_name))
            setattr(owner, bn_name, nn.Identity())
            pad = getattr(conv, "static_padding", None)
            if isinstance(pad, nn.ZeroPad2d):
                left, right, top, bottom = pad.padding
                if left == right and top == bottom:
                    conv.padding, conv.static_padding = (top, left), nn.Identity()
        for module in inner.modules():
            if isinstance(module, nn.ReLU6):
                module.inplace = True
        return net
    raise TypeError(f"no batch-norm folding for {type(net).__name__}")


def _stats(values: tuple[float, float, float], device: torch.device) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32, device=device).view(1, 3, 1, 1)


def _paper_networks(random_init: bool) -> tuple[nn.Module, nn.Module]:
    return _resnet18(random_init), _vggish(random_init)


def _offline_networks(random_init: bool) -> tuple[nn.Module, nn.Module]:
    return _efficientnet_lite("lite0", EFFICIENTNET_LITE0, random_init), LogMelStats()


def _lite1_networks(random_init: bool) -> tuple[nn.Module, nn.Module]:
    return _efficientnet_lite("lite1", EFFICIENTNET_LITE1, random_init), LogMelStats()


@functools.lru_cache(maxsize=2)
def load_backbones(name: str, device: str, random_init: bool = False, precision: str = "float32") -> Backbones:
    """Build (and keep, for the next video) the set's networks on `device`. Seeded when random_init.

    precision "bfloat16" stores the networks in bf16 (half the memory, no per-call weight casts); the log-mel
    front end always runs in float32.
    """
    from detector.digest import builtin_digest

    info = backbone_set(name)
    if info.in_model_file:
        raise DetectorError(
            f"The {name!r} backbones are inside a model file; load them with load_model_backbones(model, ...)."
        )
    dev = torch.device(device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_INIT_SEED)
        image_net, audio_net = LOADERS[name](random_init)
    return _ready(name, dev, image_net, audio_net, info.mean, info.std, precision, random_init=random_init,
                  digest=builtin_digest(name, random_init=random_init))


def _ready(name: str, dev: torch.device, image_net: nn.Module, audio_net: nn.Module, mean, std, precision: str, *,
           random_init: bool, digest: str) -> Backbones:
    # channels_last speeds the image networks' convolutions on CPU (oneDNN) and GPU (cuDNN NHWC)
    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[precision]
    image_net = fold_batchnorm(image_net.eval()).to(dev, dtype).to(memory_format=torch.channels_last)
    audio_net = audio_net.to(dev, dtype).eval()
    for net in (image_net, audio_net):
        for parameter in net.parameters():
            parameter.requires_grad_(False)
    return Backbones(
        name=name, device=dev, image_net=image_net, audio_net=audio_net, log_mel=LogMel().to(dev).eval(),
        mean=_stats(mean, dev), std=_stats(std, dev), random_init=random_init, channels_last=True, dtype=dtype,
        digest=digest,
    )


PUBLISHED_IMAGE_PREFIX, PUBLISHED_AUDIO_PREFIX = "conv.", "vggish."


def published_networks(tensors: dict) -> tuple[nn.Module, nn.Module]:
    """The published model's trunks from its tensors (state-dict names `conv.*`, `vggish.*`), in eval mode:
    ResNet-18 with fc = Identity (-> 512) and VGGish flattening channel-first (-> 128). ModelFileError if the
    tensors do not fit those architectures exactly."""
    import torchvision

    image_net = torchvision.models.resnet18(weights=None)
    image_net.fc = nn.Identity()
    audio_net = VGGish(flatten="chw")
    unknown = [k for k in tensors if not k.startswith((PUBLISHED_IMAGE_PREFIX, PUBLISHED_AUDIO_PREFIX))]
    if unknown:
        raise ModelFileError(
            f"the published model's backbones hold tensors outside conv.* and vggish.*: {', '.join(unknown[:5])}"
        )
    for net, prefix, what in ((image_net, PUBLISHED_IMAGE_PREFIX, "ResNet-18 (conv)"),
                              (audio_net, PUBLISHED_AUDIO_PREFIX, "VGGish (vggish)")):
        state = {k[len(prefix):]: torch.as_tensor(v) for k, v in tensors.items() if k.startswith(prefix)}
        try:
            net.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise ModelFileError(
                f"the published model's {what} tensors do not fit that architecture: {str(exc)[:300]}"
            ) from None
    return image_net.eval(), audio_net.eval()


def load_model_backbones(model, device: str, precision: str = "float32") -> Backbones:
    """The backbones inside a model file (a SceneModel from load_model whose set is `published`), on `device`.

    The tensors are checked against the card's SHA-256 digest; the networks are kept for the next video (per file
    and digest). Raises ModelFileError when the file is missing, damaged or does not fit.
    """
    if not model.carries_backbones:
        raise DetectorError(f"A {model.backbone_set!r} model has no backbones of its own; use load_backbones.")
    if model.source is None:
        raise ModelFileError("The model's backbones are read from its file; load it with load_model(FILE).")
    return _model_file_backbones(str(model.source), model.backbone_digest, model.backbone_set, str(device), precision)


@functools.lru_cache(maxsize=2)
def _model_file_backbones(source: str, digest: str, name: str, device: str, precision: str) -> Backbones:
    from pathlib import Path

    from detector.head import load_backbone_tensors, load_model

    model = load_model(Path(source))
    if model.backbone_digest != digest:  # the file was replaced since it was loaded
        raise ModelFileError(f"{source} now holds other backbones (digest {model.backbone_digest}, not {digest}).")
    info = backbone_set(name)
    image_net, audio_net = MODEL_FILE_LOADERS[name](load_backbone_tensors(model))
    return _ready(name, torch.device(device), image_net, audio_net, info.mean, info.std, precision,
                  random_init=False, digest=digest)


# Each set's loader: (random_init) -> (image network, audio network) for a set with weights of its own, or
# (the model file's backbone tensors) -> (image network, audio network) for a set whose weights are in the model file.
LOADERS: dict[str, Callable[[bool], tuple[nn.Module, nn.Module]]] = {
    "paper": _paper_networks,
    "offline": _offline_networks,
    "lite1": _lite1_networks,
    "faces": _offline_networks,  # the same networks; detector.faces chooses what the image network sees
}
MODEL_FILE_LOADERS: dict[str, Callable[[dict], tuple[nn.Module, nn.Module]]] = {
    "published": published_networks,
}
if set(LOADERS) != set(BUILTIN_SETS) or set(MODEL_FILE_LOADERS) != set(MODEL_FILE_SETS):
    raise RuntimeError("detector/networks.py: every set of detector.backbones needs exactly one loader here")
