"""The torchaudio log-mel front end equals VGGish's own numpy front end (mel_features.py), sample for sample."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from detector.audio import LogMel, LogMelStats, vggish_mel_matrix
from detector.constants import PATCH_SAMPLES


def vggish_reference_log_mel(signal: np.ndarray) -> np.ndarray:
    """A direct transcription of VGGish's mel_features.log_mel_spectrogram at 16 kHz (float64, loops)."""
    rate, window, hop, fft = 16000, 400, 160, 512
    n_frames = 1 + (len(signal) - window) // hop
    frames = np.stack([signal[i * hop:i * hop + window] for i in range(n_frames)])
    periodic_hann = 0.5 - 0.5 * np.cos(2 * np.pi / window * np.arange(window))
    magnitude = np.abs(np.fft.rfft(frames * periodic_hann, fft))

    def mel(f):
        return 1127.0 * np.log(1.0 + f / 700.0)

    bins = mel(np.linspace(0.0, rate / 2, fft // 2 + 1))
    edges = np.linspace(mel(125.0), mel(7500.0), 66)
    weights = np.zeros((fft // 2 + 1, 64))
    for band in range(64):
        lo, centre, hi = edges[band:band + 3]
        for b in range(1, fft // 2 + 1):  # bin 0 (DC) stays zero
            weights[b, band] = max(0.0, min((bins[b] - lo) / (centre - lo), (hi - bins[b]) / (hi - centre)))
    return np.log(magnitude @ weights + 0.01)


def sine(freq_hz: float, amplitude: float = 0.5, n: int = PATCH_SAMPLES) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * freq_hz * np.arange(n) / 16000)


def test_patch_is_96_frames_by_64_bands():
    patch = LogMel()(torch.zeros(3, PATCH_SAMPLES))
    assert patch.shape == (3, 96, 64)
    assert torch.allclose(patch, torch.log(torch.tensor(0.01)))  # silence is log(0 + offset)


@pytest.mark.parametrize("freq_hz", [440.0, 1000.0, 3150.0])
def test_log_mel_matches_the_vggish_reference_on_a_sine(freq_hz):
    signal = sine(freq_hz) + sine(freq_hz * 2.3, 0.1)
    expected = vggish_reference_log_mel(signal)
    assert expected.shape == (96, 64)
    got = LogMel()(torch.from_numpy(signal.astype(np.float32))[None])[0].numpy()
    np.testing.assert_allclose(got, expected, atol=2e-4, rtol=1e-4)
    # the tone's band is the loudest, and it is the band whose centre is nearest the tone
    centres = np.linspace(1127 * np.log(1 + 125 / 700), 1127 * np.log(1 + 7500 / 700), 66)[1:-1]
    assert got.mean(axis=0).argmax() == np.abs(centres - 1127 * np.log(1 + freq_hz / 700)).argmin()


def test_frames_are_aligned_to_the_end_of_the_patch():
    # an impulse in the last 160 samples shows only in the last frames; one at the start only in the first
    late, early = np.zeros(PATCH_SAMPLES), np.zeros(PATCH_SAMPLES)
    late[-100], early[100] = 1.0, 1.0
    mel = LogMel()(torch.from_numpy(np.stack([late, early]).astype(np.float32)))
    loud_late = (mel[0].amax(dim=1) > -4).nonzero().flatten().tolist()
    loud_early = (mel[1].amax(dim=1) > -4).nonzero().flatten().tolist()
    assert loud_late and min(loud_late) >= 93 and max(loud_late) == 95
    assert loud_early and max(loud_early) <= 2 and min(loud_early) == 0


def test_mel_matrix_differs_from_torchaudio_hz_triangles_on_purpose():
    import torchaudio

    hz_triangles = torchaudio.functional.melscale_fbanks(257, 125.0, 7500.0, 64, 16000, mel_scale="htk").numpy()
    ours = vggish_mel_matrix()
    assert ours.shape == hz_triangles.shape == (257, 64)
    assert np.abs(ours - hz_triangles).max() > 1e-3  # small but real: VGGish's weights are what it was trained on
    np.testing.assert_allclose(LogMel().mel.fb.numpy(), ours, atol=1e-7)


def test_wrong_patch_length_is_refused():
    with pytest.raises(ValueError, match="15600"):
        LogMel()(torch.zeros(1, 16000))


def test_offline_audio_summary_is_band_mean_and_std():
    patch = torch.randn(2, 96, 64, generator=torch.Generator().manual_seed(0))
    summary = LogMelStats()(patch)
    assert summary.shape == (2, 128)
    torch.testing.assert_close(summary[:, :64], patch.mean(dim=1))
    torch.testing.assert_close(summary[:, 64:], torch.from_numpy(patch.numpy().std(axis=1)))
