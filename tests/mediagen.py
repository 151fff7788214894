"""Test media made with ffmpeg's lavfi sources (imageio-ffmpeg ships the binary). Nothing is downloaded."""

from __future__ import annotations

import subprocess
from pathlib import Path

import imageio_ffmpeg

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
SHARED_MEDIA = Path(__file__).resolve().parent.parent.parent / "shared" / "media"


def ffmpeg(*args: str, timeout_s: float = 300) -> None:
    subprocess.run(
        [FFMPEG, "-hide_banner", "-loglevel", "error", "-y", *args],
        check=True, timeout=timeout_s, capture_output=True,
    )


def make_video(
    path: Path,
    *,
    duration_s: float = 3.0,
    size: str = "320x240",
    fps: int = 25,
    video: str | None = None,
    audio: str | None = "sine=frequency=440:sample_rate=44100",
    vcodec: str = "libx264",
    acodec: str = "aac",
    extra: tuple[str, ...] = (),
) -> Path:
    """Write a test movie. `video`/`audio` are lavfi source graphs; audio=None makes a silent-free file."""
    video = video or f"testsrc2=size={size}:rate={fps}"
    args = ["-f", "lavfi", "-i", f"{video}:duration={duration_s}" if "duration" not in video else video]
    if audio:
        args += ["-f", "lavfi", "-i", f"{audio}:duration={duration_s}" if "duration" not in audio else audio]
    args += ["-c:v", vcodec, "-pix_fmt", "yuv420p"]
    if vcodec == "libx264":
        args += ["-preset", "ultrafast"]
    if audio:
        args += ["-c:a", acodec]
    args += ["-t", str(duration_s), *extra, str(path)]
    ffmpeg(*args)
    return path


def make_colour_video(path: Path, *, colour: str, tone_hz: int, duration_s: float = 3.0, size: str = "160x120") -> Path:
    """A solid colour with a pure tone: content that differs by label, for training tests."""
    return make_video(
        path,
        duration_s=duration_s,
        video=f"color=c={colour}:size={size}:rate=25",
        audio=f"sine=frequency={tone_hz}:sample_rate=44100",
    )
