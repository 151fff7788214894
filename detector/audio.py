"""The VGGish log-mel front end in torchaudio, and the offline set's 128-d summary of it.

VGGish (tensorflow/models research/audioset/vggish, mel_features.py): |STFT| of 25 ms periodic-Hann frames at
a 10 ms hop, FFT 512, zero-padded; 64 HTK-mel bands 125-7500 Hz whose triangles are linear in mel (torchaudio's
are linear in Hz, so its MelScale gets VGGish's matrix); log(mel + 0.01); 96 frames per example.
"""

from __future__ import annotations

import numpy as np
import torch
import torchaudio

from detector.constants import (
    AUDIO_SAMPLE_RATE,
    FFT_LENGTH,
    LOG_OFFSET,
    MEL_BANDS,
    MEL_MAX_HZ,
    MEL_MIN_HZ,
    PATCH_FRAMES,
    PATCH_SAMPLES,
    STFT_HOP_SAMPLES,
    STFT_WINDOW_SAMPLES,
)

# torch.stft frames n_fft samples and centres the shorter window in them; padding the patch by this much on
# each side makes frame j window exactly samples [160 j, 160 j + 400), as VGGish's framing does.
_STFT_PAD = (FFT_LENGTH - STFT_WINDOW_SAMPLES) // 2


def hertz_to_mel(hertz: np.ndarray | float) -> np.ndarray:
    """HTK mel scale, as VGGish: 1127 ln(1 + f / 700)."""
    return 1127.0 * np.log(1.0 + np.asarray(hertz, dtype=np.float64) / 700.0)


def vggish_mel_matrix() -> np.ndarray:
    """(FFT_LENGTH // 2 + 1, MEL_BANDS) weights of VGGish's spectrogram_to_mel_matrix."""
    bins_mel = hertz_to_mel(np.linspace(0.0, AUDIO_SAMPLE_RATE / 2, FFT_LENGTH // 2 + 1))
    edges = np.linspace(hertz_to_mel(MEL_MIN_HZ), hertz_to_mel(MEL_MAX_HZ), MEL_BANDS + 2)
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins_mel[:, None] - lower) / (centre - lower)
    falling = (upper - bins_mel[:, None]) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights[0, :] = 0.0  # VGGish drops the DC bin
    return weights


class LogMel(torch.nn.Module):
    """(b, 15600) float waveforms at 16 kHz -> (b, 96, 64) VGGish log-mel patches (frames x bands)."""

    def __init__(self) -> None:
        super().__init__()
        self.spectrogram = torchaudio.transforms.Spectrogram(
            n_fft=FFT_LENGTH, win_length=STFT_WINDOW_SAMPLES, hop_length=STFT_HOP_SAMPLES, pad=_STFT_PAD,
            window_fn=torch.hann_window, power=1.0, center=False, normalized=False,
        )
        self.mel = torchaudio.transforms.MelScale(
            n_mels=MEL_BANDS, sample_rate=AUDIO_SAMPLE_RATE, f_min=MEL_MIN_HZ, f_max=MEL_MAX_HZ,
            n_stft=FFT_LENGTH // 2 + 1, mel_scale="htk",
        )
        with torch.no_grad():
            self.mel.fb.copy_(torch.from_numpy(vggish_mel_matrix()).to(self.mel.fb.dtype))

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        if waveforms.shape[-1] != PATCH_SAMPLES:
            raise ValueError(f"expected {PATCH_SAMPLES} samples per patch, got {waveforms.shape[-1]}")
        magnitude = self.spectrogram(waveforms)  # (b, 257, 96)
        mel = self.mel(magnitude)  # (b, 64, 96)
        patch = torch.log(mel + LOG_OFFSET).transpose(-1, -2)
        if patch.shape[-2:] != (PATCH_FRAMES, MEL_BANDS):
            raise RuntimeError(f"log-mel patch has shape {tuple(patch.shape)}, not (b, 96, 64)")
        return patch


class LogMelStats(torch.nn.Module):
    """The offline set's audio embedding: mean and standard deviation (population) of each band -> 128-d."""

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        mean = patches.mean(dim=-2)
        std = patches.std(dim=-2, unbiased=False)
        return torch.cat([mean, std], dim=-1)
