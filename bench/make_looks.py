"""Generated hard cases for the transfer figure: every labelled clip re-rendered by ffmpeg in other looks.

    ./kiss bench make_looks --spans ../shared/media/labels.csv [--out bench/out/looks]

Writes OUT/<look>/<clip>.mp4 and OUT/looks.csv (the spans CSV format with the source's `group`, so
`./kiss bench quality --transfer OUT/looks.csv` can score each clip's looks with the model that never saw its
group). The looks are ffmpeg filters chosen to differ from the training looks in detector/looks.py (other
parameters, other code, re-encoded): an 1896-style film (grey, 16 fps, heavy grain, flicker), a dark
low-contrast TV scene, the picture on a small monitor in a lit room, and the original picture with a soundtrack
(music-like tones and noise) where the clip had silence. Footage stays outside the repository (bench/out/ is
ignored).
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from detector.decode import ffmpeg_exe, probe  # noqa: E402
from detector.dataset import read_items  # noqa: E402

EVEN = "scale=trunc(iw/2)*2:trunc(ih/2)*2"
LOOKS = {
    "film1896": f"{EVEN},format=gray,fps=16,eq=contrast=0.75:brightness=0.05,noise=alls=28:allf=t+u,"
                "vignette=PI/4,format=yuv420p",
    "dark_tv": f"{EVEN},eq=brightness=-0.28:contrast=0.55:saturation=0.5:gamma=0.8,format=yuv420p",
    "monitor": "scale=trunc(iw*0.36/2)*2:trunc(ih*0.36/2)*2,"
               "pad=trunc(iw/0.36/2)*2:trunc(ih/0.36/2)*2:trunc(iw*0.9):trunc(ih*0.45):color=0x3a3f48,"
               "format=yuv420p",
    "soundtrack": None,  # picture unchanged, audio replaced by a tone chord with noise
}


def render(source: Path, target: Path, look: str, duration_s: float) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if look == "soundtrack":
        audio = (f"sine=frequency=220:duration={duration_s}[a];sine=frequency=277:duration={duration_s}[b];"
                 f"anoisesrc=amplitude=0.05:duration={duration_s}[c];[a][b][c]amix=inputs=3[out];"
                 f"[0:v:0]{EVEN}[v]")
        args = ["-i", str(source), "-filter_complex", audio, "-map", "[v]", "-map", "[out]",
                "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest"]
    else:
        args = ["-i", str(source), "-vf", LOOKS[look], "-map", "0:v:0", "-map", "0:a?",
                "-c:v", "libx264", "-preset", "veryfast", "-c:a", "aac"]
    partial = target.with_name(target.stem + ".partial.mp4")
    subprocess.run([ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-y", *args, str(partial)], check=True,
                   timeout=300)
    partial.replace(target)  # a failed render leaves no file that a later run would take for done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "looks")
    parser.add_argument("--looks", default=",".join(LOOKS))
    args = parser.parse_args(argv)
    looks = args.looks.split(",")
    rows = []
    for item in read_items(args.spans, spans=True):
        duration = probe(item.path).duration_s
        for look in looks:
            target = args.out / look / (item.path.stem + ".mp4")
            if not target.is_file() or target.stat().st_size == 0:
                render(item.path, target, look, duration)
            rows.append([str(target.resolve()), item.start_s, item.end_s, item.label,
                         item.group or item.describe()])
    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / "looks.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "start_s", "end_s", "label", "group"])
        writer.writerows(rows)
    print(f"wrote {len(rows)} rows to {args.out / 'looks.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
