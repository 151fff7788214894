"""VGGish (Hershey et al. 2017), the audio network of the paper: 96x64 log-mel patch -> 128-d embedding.

Module names and the flatten order follow the PyTorch port harritaylor/torchvggish (weights
vggish-10086976.pth, converted from Google's TensorFlow checkpoint), so its state dict loads unchanged.
The 128-d output is the embedding layer after its ReLU, without the PCA/quantisation postprocessing:
the paper (and its published code) fed this raw embedding to the classifier.

flatten="chw": the published project's VGGish (an earlier port, weights vggish-cbfe8f1c.pth) flattened the pooled
map channel-first with a plain view; its fine-tuned copy inside model.pkl must be run the same way.
"""

from __future__ import annotations

import torch
from torch import nn

from detector.constants import MEL_BANDS, PATCH_FRAMES


def _conv_blocks() -> nn.Sequential:
    layers: list[nn.Module] = []
    channels = 1
    # four blocks: 64 | 128 | 256, 256 | 512, 512, each ended by 2x2 max-pooling
    for block in ((64,), (128,), (256, 256), (512, 512)):
        for width in block:
            layers += [nn.Conv2d(channels, width, kernel_size=3, stride=1, padding=1), nn.ReLU(inplace=True)]
            channels = width
        layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


FLATTEN_ORDERS = ("hwc", "chw")


class VGGish(nn.Module):
    EMBEDDING_DIM = 128

    def __init__(self, flatten: str = "hwc") -> None:
        super().__init__()
        if flatten not in FLATTEN_ORDERS:
            raise ValueError(f"flatten must be one of {FLATTEN_ORDERS}, not {flatten!r}")
        self.flatten = flatten
        self.features = _conv_blocks()
        pooled = 512 * (PATCH_FRAMES // 16) * (MEL_BANDS // 16)  # 512 x 6 x 4
        self.embeddings = nn.Sequential(
            nn.Linear(pooled, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, self.EMBEDDING_DIM), nn.ReLU(inplace=True),
        )

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        """patches: (b, 96, 64) or (b, 1, 96, 64) log-mel -> (b, 128)."""
        if patches.dim() == 3:
            patches = patches.unsqueeze(1)
        x = self.features(patches)  # (b, 512, 6, 4)
        if self.flatten == "hwc":
            # TensorFlow flattened (height, width, channels); the converted weights expect that order
            x = x.permute(0, 2, 3, 1)
        return self.embeddings(x.reshape(x.shape[0], -1))
