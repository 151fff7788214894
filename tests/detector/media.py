"""Generated clips and movies whose picture and sound differ by label (red + 880 Hz = the scene)."""

from __future__ import annotations

from pathlib import Path

from tests.mediagen import ffmpeg, make_colour_video

SCENE = ("red", 880)
OTHERS = (("blue", 220), ("green", 220))


def make_training_clips(folder: Path, *, per_class: int = 4, duration_s: float = 4.0) -> Path:
    """Clips of both labels and a clips CSV (relative paths) describing them; returns the CSV's path."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = ["path,label"]
    for i in range(per_class):
        name = f"scene{i}.mp4"
        make_colour_video(folder / name, colour=SCENE[0], tone_hz=SCENE[1], duration_s=duration_s + i % 2)
        rows.append(f"{name},1")
        colour, tone = OTHERS[i % 2]
        name = f"other{i}.mp4"
        make_colour_video(folder / name, colour=colour, tone_hz=tone, duration_s=duration_s + (i + 1) % 2)
        rows.append(f"{name},0")
    csv_path = folder / "clips.csv"
    csv_path.write_text("\n".join(rows) + "\n")
    return csv_path


def make_movie(path: Path, parts: list[tuple[str, int, float]]) -> Path:
    """Concatenate (colour, tone, seconds) parts into one H.264 + AAC movie with ffmpeg's concat filter."""
    pieces = []
    for index, (colour, tone, seconds) in enumerate(parts):
        pieces.append(make_colour_video(path.with_name(f"{path.stem}-part{index}.mp4"), colour=colour, tone_hz=tone,
                                        duration_s=seconds))
    inputs: list[str] = []
    for piece in pieces:
        inputs += ["-i", str(piece)]
    streams = "".join(f"[{i}:v][{i}:a]" for i in range(len(pieces)))
    ffmpeg(
        *inputs, "-filter_complex", f"{streams}concat=n={len(pieces)}:v=1:a=1[v][a]", "-map", "[v]", "-map", "[a]",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", str(path),
    )
    return path


def ffmpeg_children(path: Path) -> int:
    """How many ffmpeg processes this test process runs on `path` (other tests' ffmpegs are not counted)."""
    count = 0
    for task in Path("/proc/self/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                arguments = Path(f"/proc/{child}/cmdline").read_text().split("\0")
            except OSError:
                continue
            count += "ffmpeg" in arguments[0] and str(path) in arguments
    return count
