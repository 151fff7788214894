"""A stand-in for the published model.pkl, for the detector's and the app's tests.

The published project (github.com/amirziai/kissing-detector) pickled a whole `KissingDetector` module with torch.save:
`conv` (torchvision ResNet-18 with fc = Identity), `vggish` (VGGish as `features` and `embeddings` Sequentials,
flattening its pooled map with a plain view, i.e. channel-first) and `combined = Linear(640, 2)` over
torch.cat((conv(image), vggish(audio))). These classes rebuild that layout from its description, with random
weights, so a test can pickle one exactly as the real file was written and compare Kissweb's scores with a plain
forward pass of the same modules (`published_probabilities`).

    module, pickle_path = write_published_pickle(tmp_path / "model.pkl", seed=0, calibrate_on=film)
    expected = published_probabilities(module, *film_inputs(film))   # P(kissing) per second of the film
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn
from torchvision.models import resnet18

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_VGGISH_LAYOUT = (64, "pool", 128, "pool", 256, 256, "pool", 512, 512, "pool")


class VGGish(nn.Module):
    """The published VGGish's layout: 96x64 log-mel (b, 1, 96, 64) -> 128."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 1
        for item in _VGGISH_LAYOUT:
            if item == "pool":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(channels, int(item), 3, 1, 1), nn.ReLU(inplace=True)]
                channels = int(item)
        self.features = nn.Sequential(*layers)
        self.embeddings = nn.Sequential(
            nn.Linear(512 * 24, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, 128), nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        return self.embeddings(x.view(x.size(0), -1))


class KissingDetector(nn.Module):
    """The published module layout: conv (ResNet-18 trunk), vggish, combined = Linear(512 + 128, 2)."""

    def __init__(self) -> None:
        super().__init__()
        conv = resnet18(weights=None)
        conv.fc = nn.Identity()
        self.conv_input_size = 224
        self.conv = conv
        self.vggish = VGGish()
        self.combined = nn.Linear(512 + 128, 2)

    def forward(self, audio: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        a = self.vggish(audio)
        c = self.conv(image)
        return self.combined(torch.cat((c.view(c.size(0), -1), a.view(a.size(0), -1)), dim=1))


def build_published_module(seed: int = 0) -> KissingDetector:
    """Random weights, as after fine-tuning: batch-norm statistics that are not the identity, VGGish initialised so
    its activations do not fade to nothing. Eval mode."""
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        module = KissingDetector()
    with torch.no_grad():
        for layer in module.vggish.modules():  # He initialisation keeps activations alive through its 9 layers
            if isinstance(layer, (nn.Conv2d, nn.Linear)):
                fan_in = layer.weight[0].numel()
                layer.weight.normal_(0.0, (2.0 / fan_in) ** 0.5, generator=generator)
                layer.bias.normal_(0.0, 0.01, generator=generator)
        for layer in module.modules():
            if isinstance(layer, nn.BatchNorm2d):
                layer.running_mean.normal_(0.0, 0.1, generator=generator)
                layer.running_var.uniform_(0.5, 1.5, generator=generator)
                layer.weight.uniform_(0.6, 1.2, generator=generator)
                layer.bias.normal_(0.0, 0.1, generator=generator)
                layer.num_batches_tracked.fill_(1000)
    return module.eval()


def film_inputs(film: Path) -> tuple[np.ndarray, np.ndarray]:
    """The frames (n, 224, 224, 3) uint8 RGB and log-mel patches (n, 96, 64) of a film's 1-second windows, as
    Kissweb's decoder and VGGish front end make them."""
    from detector.audio import LogMel
    from detector.decode import iter_window_batches

    frames, audio = [], []
    for batch in iter_window_batches(film, batch_size=8):
        frames.append(batch.frames)
        audio.append(batch.audio)
    with torch.no_grad():
        log_mel = LogMel()(torch.from_numpy(np.concatenate(audio))).numpy()
    return np.concatenate(frames), log_mel


def calibrate_head(module: KissingDetector, frames: np.ndarray, log_mel: np.ndarray, *, seed: int = 0) -> None:
    """Give `combined` random weights scaled so that, on these windows, the logit difference has mean 0 and standard
    deviation 2: the probabilities then spread over (0, 1) instead of all being 0 or 1, so a comparison of scores
    means something. Both image and audio features weigh in."""
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        image, audio = published_features(module, frames, log_mel)
        features = torch.cat((image, audio), dim=1)
        spread = features.std(dim=0)
        spread = spread.clamp_min(float(spread.mean()) * 0.1 + 1e-6)
        weight = torch.randn(2, 640, generator=generator, dtype=torch.float64) / spread.double() / 640 ** 0.5
        difference = features.double() @ (weight[1] - weight[0])
        weight *= 2.0 / float(difference.std().clamp_min(1e-12))
        module.combined.weight.copy_(weight.float())
        module.combined.bias.copy_(torch.tensor([0.0, -float(difference.mean()) * 2.0 / float(difference.std())]))


def write_published_pickle(path: Path, *, seed: int = 0, calibrate_on: Path | None = None
                           ) -> tuple[KissingDetector, Path]:
    """Pickle a random published-layout module with torch.save, as the published model.pkl was written.
    calibrate_on: a film whose windows the head is scaled for (see calibrate_head)."""
    module = build_published_module(seed)
    if calibrate_on is not None:
        calibrate_head(module, *film_inputs(calibrate_on), seed=seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(module, path)
    return module, path


def _images(frames: np.ndarray, channel_order: str) -> torch.Tensor:
    images = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 255.0
    if channel_order == "BGR":
        images = images.flip(1)
    return (images - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)


def published_features(module: KissingDetector, frames: np.ndarray, log_mel: np.ndarray, *,
                       channel_order: str = "BGR") -> tuple[torch.Tensor, torch.Tensor]:
    """conv(image) (n, 512) and vggish(audio) (n, 128) of a plain forward pass (see published_probabilities)."""
    audio = torch.from_numpy(np.ascontiguousarray(log_mel, dtype=np.float32))[:, None]
    with torch.no_grad():
        return module.eval().conv(_images(frames, channel_order)), module.vggish(audio)


def published_probabilities(module: KissingDetector, frames: np.ndarray, log_mel: np.ndarray, *,
                            channel_order: str = "BGR") -> np.ndarray:
    """P(class 1) of a plain forward pass: frames (b, 224, 224, 3) uint8 RGB, log_mel (b, 96, 64).

    The published code gave OpenCV's BGR frames to ToTensor + Normalize(ImageNet) as if they were RGB.
    """
    audio = torch.from_numpy(np.ascontiguousarray(log_mel, dtype=np.float32))[:, None]
    with torch.no_grad():
        logits = module.eval()(audio, _images(frames, channel_order))
    return torch.softmax(logits.double(), dim=1)[:, 1].numpy()
