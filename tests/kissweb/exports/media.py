"""Generated films for the export tests: solid colours that change at known instants, with a tone."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.mediagen import ffmpeg

COLOURS = {"red": (255, 0, 0), "green": (0, 128, 0), "blue": (0, 0, 255), "white": (255, 255, 255),
           "black": (0, 0, 0), "yellow": (255, 255, 0)}


def colour_film(path: Path, parts: list[tuple[str, float]], *, size: str = "320x240", fps: float = 25,
                gop: int = 250, audio: bool = True, faststart: bool = True) -> Path:
    """Colours one after another for the given seconds (H.264, one keyframe every `gop` frames, AAC tone)."""
    graph = ";".join(f"color=c={c}:s={size}:r={fps}:d={d}[v{i}]" for i, (c, d) in enumerate(parts))
    graph += ";" + "".join(f"[v{i}]" for i in range(len(parts))) + f"concat=n={len(parts)}:v=1:a=0[v]"
    total = sum(d for _, d in parts)
    args = ["-filter_complex", graph, "-map", "[v]"]
    if audio:
        args = ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={total}", *args, "-map", "0:a",
                "-c:a", "aac"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", str(gop), "-t", str(total)]
    if faststart:
        args += ["-movflags", "+faststart"]
    ffmpeg(*args, str(path))
    return path


def frames(path: Path) -> list[tuple[float, np.ndarray]]:
    """(time, RGB frame) of every frame of a video file."""
    import av

    with av.open(str(path)) as container:
        return [(float(f.time), f.to_ndarray(format="rgb24")) for f in container.decode(video=0)]


def colour_of(rgb: np.ndarray) -> str:
    """The name of the COLOURS entry nearest to the mean of a picture (or a region of one)."""
    mean = rgb.reshape(-1, rgb.shape[-1])[:, :3].mean(axis=0)
    return min(COLOURS, key=lambda name: float(np.abs(mean - np.array(COLOURS[name])).sum()))


def stream_facts(path: Path) -> dict:
    import av

    with av.open(str(path)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        return {
            "duration_s": container.duration / 1_000_000, "width": video.codec_context.width,
            "height": video.codec_context.height, "video_codec": video.codec_context.name,
            "fps": float(video.average_rate), "audio_codec": audio.codec_context.name if audio else None,
            "pix_fmt": video.codec_context.pix_fmt,
        }
