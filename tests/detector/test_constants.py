"""The method's numbers agree with each other and with VGGish's framing."""

from __future__ import annotations

import subprocess
import sys

from detector import constants as c


def test_vggish_framing_gives_exactly_96_frames_from_the_patch():
    # VGGish frames a signal as 1 + (len - window) // hop (mel_features.frame), without padding.
    assert 1 + (c.PATCH_SAMPLES - c.STFT_WINDOW_SAMPLES) // c.STFT_HOP_SAMPLES == c.PATCH_FRAMES
    assert 1 + (c.PATCH_SAMPLES - 1 - c.STFT_WINDOW_SAMPLES) // c.STFT_HOP_SAMPLES == c.PATCH_FRAMES - 1


def test_the_patch_ends_inside_its_window_and_covers_the_last_0_96_s():
    assert c.PATCH_SAMPLES <= c.SAMPLES_PER_WINDOW
    hop_span_s = c.PATCH_FRAMES * c.STFT_HOP_SAMPLES / c.AUDIO_SAMPLE_RATE
    assert abs(hop_span_s - 0.96) < 1e-12


def test_frames_are_rgb_with_imagenet_statistics():
    assert c.CHANNEL_ORDER == "RGB"
    assert c.IMAGENET_MEAN == (0.485, 0.456, 0.406)
    assert c.IMAGENET_STD == (0.229, 0.224, 0.225)
    assert (c.FRAME_SHORT_SIDE, c.FRAME_CROP) == (256, 224)


def test_importing_the_constants_and_decoder_does_not_import_torch():
    code = "import detector.constants, detector.decode, detector.errors, sys; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
