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


def make_corrupt_audio_video(path: Path, *, duration_s: float = 5.0, corrupt_from_s: float = 0.0,
                             corrupt_to_s: float | None = None, seed: int = 0) -> Path:
    """An H.264 + AAC movie whose audio packets between corrupt_from_s and corrupt_to_s (default: the end) hold
    random bytes: the audio stream exists, with its timing intact, but the decoder cannot read those packets."""
    import av
    import numpy as np

    source = make_video(path.with_name(path.stem + "-source.mp4"), duration_s=duration_s)
    rng = np.random.default_rng(seed)
    end_s = duration_s + 1 if corrupt_to_s is None else corrupt_to_s
    with av.open(str(source)) as src, av.open(str(path), "w") as out:
        video_in, audio_in = src.streams.video[0], src.streams.audio[0]
        video_out, audio_out = out.add_stream_from_template(video_in), out.add_stream_from_template(audio_in)
        for packet in src.demux():
            if packet.dts is None:
                continue  # the demuxer's end-of-stream marker
            if packet.stream is audio_in:
                data = bytes(packet)
                if corrupt_from_s <= float(packet.pts * packet.time_base) < end_s:
                    data = rng.integers(0, 256, size=len(data), dtype=np.uint8).tobytes()
                copy = av.Packet(data)
                copy.pts, copy.dts, copy.duration, copy.time_base = (
                    packet.pts, packet.dts, packet.duration, packet.time_base)
                copy.stream = audio_out
                out.mux(copy)
            else:
                packet.stream = video_out
                out.mux(packet)
    source.unlink()
    return path
