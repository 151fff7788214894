"""The decode backend registry: which decoder reads a film's pictures, and why.

Two backends give the same thing, the RGB pictures of 1-second windows at 224x224 (window k's picture is the last
frame whose timestamp is < k + 1; with m pictures per window, the last frames before k + 1/m, ..., k + 1):
  ffmpeg  the CPU path (detector.decode.ffmpeg): one streaming ffmpeg process, everywhere.
  nvdec   the GPU's hardware decoders through PyNvVideoCodec (detector.decode.nvdec), pictures stay on the GPU; a
          film's windows are split into K contiguous ranges, each read by its own decoder.
`choose_backend` picks one for a film and says why; anything NVDEC would not read exactly like ffmpeg (a codec or
container it lacks, rotation, non-square pixels, an unknown frame rate, no CUDA, no PyNvVideoCodec) goes to ffmpeg.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import os
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from detector.decode.ffmpeg import MediaInfo

# Codec names as probe() gives them (FFmpeg's); what NVDEC decodes on every GPU since Turing, 8-bit.
NVDEC_CODECS = frozenset({"h264", "hevc", "vp9", "av1"})
# Containers whose index PyNvVideoCodec seeks by frame number reliably (not MPEG-TS, whose frame count is a guess).
NVDEC_CONTAINERS = frozenset({"mp4", "mov", "m4v", "matroska", "mkv", "webm"})
NVDEC_MIN_SIDE = 64
DEFAULT_NVDEC_DECODERS = 4
DECODER_CHOICES = ("auto", "ffmpeg", "nvdec")


@dataclass(frozen=True)
class Backend:
    """A way to read pictures: where they land, whether it can run on this host, and which films it refuses."""

    name: str
    frames_on: str  # "cpu" (numpy) or "cuda" (torch)
    unavailable: Callable[[], str]  # "" where it can run here, else why not
    refusal: Callable[["MediaInfo"], str]  # "" where it reads this film, else why not


@dataclass(frozen=True)
class DecodeChoice:
    """The backend that reads a film, with how many decoders and why (recorded in the analysis and detect's JSON)."""

    backend: str
    reason: str
    decoders: int = 1

    def to_json(self) -> dict[str, Any]:
        return {"backend": self.backend, "decoders": self.decoders, "reason": self.reason}


@functools.cache
def nvdec_unavailable() -> str:
    """"" where PyNvVideoCodec is installed (it is imported only when a film is decoded), else why not."""
    if importlib.util.find_spec("PyNvVideoCodec") is None:
        return "PyNvVideoCodec is not installed (pip install -r requirements-gpu.txt on a CUDA host)"
    return ""


def nvdec_refusal(info: "MediaInfo") -> str:
    """"" where NVDEC reads this film's pictures as ffmpeg would, else why it is left to ffmpeg."""
    if info.video_codec not in NVDEC_CODECS:
        return f"NVDEC does not decode {info.video_codec} here (it reads {', '.join(sorted(NVDEC_CODECS))})"
    if info.container not in NVDEC_CONTAINERS:
        return f"the {info.container} container is not indexed by frame for NVDEC"
    if info.rotation_deg:
        return f"the picture is rotated by {info.rotation_deg} degrees (ffmpeg applies the rotation)"
    if abs(info.pixel_aspect - 1.0) > 1e-3:
        return f"the pixels are not square (aspect {info.pixel_aspect:.3f}; ffmpeg scales them)"
    if not info.fps or not math.isfinite(info.fps) or info.fps <= 0:
        return "the frame rate is unknown, so windows cannot be mapped to frame numbers"
    if not info.constant_frame_rate:
        return "the frame rate varies, so windows are found by timestamp (ffmpeg), not by frame number"
    if info.video_start_s < 0:
        return f"the video starts {info.video_start_s:+.3f} s before the file does"
    if min(info.width, info.height) < NVDEC_MIN_SIDE:
        return f"the picture is smaller than {NVDEC_MIN_SIDE} pixels on a side"
    return ""


BACKENDS: dict[str, Backend] = {
    "ffmpeg": Backend("ffmpeg", "cpu", lambda: "", lambda info: ""),
    "nvdec": Backend("nvdec", "cuda", nvdec_unavailable, nvdec_refusal),
}


def requested_decoder(requested: str | None = None) -> str:
    """auto, ffmpeg or nvdec: the argument, else KISSWEB_DECODER, else auto."""
    from detector.errors import DetectorError

    value = (requested or os.environ.get("KISSWEB_DECODER") or "auto").strip().lower()
    if value not in DECODER_CHOICES:
        raise DetectorError(f"Unknown decoder {value!r}; choose {', '.join(DECODER_CHOICES)} (KISSWEB_DECODER).")
    return value


def decoders_per_film(decoders: int | None = None) -> int:
    """K, the NVDEC decoders one film is split over: the argument, else KISSWEB_NVDEC_DECODERS, else 4."""
    from detector.errors import DetectorError

    if decoders is None:
        raw = os.environ.get("KISSWEB_NVDEC_DECODERS", "").strip()
        try:
            decoders = int(raw) if raw else DEFAULT_NVDEC_DECODERS
        except ValueError:
            raise DetectorError(f"KISSWEB_NVDEC_DECODERS must be a whole number, not {raw!r}.") from None
    if not 1 <= decoders <= 32:
        raise DetectorError(f"Decoders per film must be 1 to 32, not {decoders}.")
    return decoders


def choose_backend(
    info: "MediaInfo", *, device_type: str, requested: str | None = None, decoders: int | None = None
) -> DecodeChoice:
    """The backend for this film on this device: NVDEC where the networks run on CUDA, PyNvVideoCodec is installed
    and NVDEC reads the film exactly; ffmpeg otherwise, with the reason. requested "ffmpeg" forces the CPU path;
    "nvdec" asks for NVDEC but still falls back (with the reason) where it cannot read the film."""
    requested = requested_decoder(requested)
    if requested == "ffmpeg":
        return DecodeChoice("ffmpeg", "ffmpeg was asked for")
    if device_type != "cuda":
        why = "the networks run on the CPU"
        return DecodeChoice("ffmpeg", why if requested == "auto" else f"NVDEC was asked for, but {why}")
    nvdec = BACKENDS["nvdec"]
    why = nvdec.unavailable() or nvdec.refusal(info)
    if why:
        return DecodeChoice("ffmpeg", f"fell back to ffmpeg: {why}")
    k = decoders_per_film(decoders)
    return DecodeChoice("nvdec", f"NVDEC reads {info.video_codec} in {info.container} on the GPU", decoders=k)


def frame_rate(fps: float) -> Fraction:
    """The exact rate behind a float one (29.97002997 -> 30000/1001), so frame times are computed without drift."""
    return Fraction(fps).limit_denominator(100_000)


def window_frame_indices(
    windows: range, *, fps: float, frame_count: int, per_window: int = 1, start_s: float = 0.0
) -> list[int]:
    """Frame numbers of the windows' pictures, window by window: for window k and j < m (m = per_window) the last
    frame before k + (j + 1)/m, frame i being shown at start_s + i / fps (a constant rate from the first frame, which
    sits at start_s on the file's timeline); windows past the video's end hold its last frame, as the ffmpeg path
    does, and windows before its start show its first."""
    if frame_count < 1:
        raise ValueError("a video without frames has no pictures")
    rate = frame_rate(fps)
    start = Fraction(round(start_s * 1_000_000), 1_000_000)  # the container's timeline is in microseconds
    last = frame_count - 1
    out = []
    for k in windows:
        for j in range(per_window):
            t = k + Fraction(j + 1, per_window) - start
            out.append(min(last, max(0, math.ceil(t * rate) - 1)))
    return out


def split_windows(n: int, parts: int, *, align: int = 1) -> list[range]:
    """Windows 0..n-1 as at most `parts` contiguous non-empty ranges, in order, whose inner boundaries fall on
    multiples of `align` (the network's batch), so every batch the network sees is the same whatever `parts` is."""
    if n <= 0:
        return []
    if parts < 1 or align < 1:
        raise ValueError("parts and align must be at least 1")
    blocks = math.ceil(n / align)
    parts = min(parts, blocks)
    edges = [min(n, (blocks * i // parts) * align) for i in range(parts + 1)]
    return [range(a, b) for a, b in zip(edges, edges[1:]) if b > a]
