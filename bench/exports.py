"""Benchmark: exports (kissweb/exports/render.py, moviepy) on a generated 2-hour 1280x720 H.264 + AAC film.

    .venv/bin/python bench/exports.py                 # both cases below
    .venv/bin/python bench/exports.py --only clip     # or: supercut, huge

- clip: a 2-minute scene (+1 s padding each side) cut from 1:40:00 into the film, and the same length from 0:01:00
  for comparison: equal times show that nothing is decoded from the start of the film to reach a scene.
- supercut: 20 scenes of 30 s (10 minutes) spread over the whole film, 0.5 s crossfades, one 720p output.
- huge (only with --only huge): 0.8 s cut from a generated 8192x8192 film, once at the size the app exports it at
  (scaled to KISSWEB_EXPORT_MAX_HEIGHT, 720) and once at the film's own size (what a clip was before the cap).

The film is the embed benchmark's 300 s movie (testsrc2 + sine, ~2.5 Mbit/s, a keyframe every 10 s) joined 24 times
with ffmpeg's concat demuxer and -c copy, generated once into bench/out/ (git-ignored). Each run is a fresh child
process: its peak RSS is its own (python); the total of python and its live ffmpeg children (readers and the
writer) is sampled every 0.1 s and its largest value reported, with the largest single ffmpeg.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.embed import OUT, ffmpeg, movie_300s  # noqa: E402

FILM_S = 7200
SIZE, FPS = (1280, 720), 25.0


def movie_huge() -> Path:
    """2 s of a 8192x8192 H.264 film (a moving test pattern; about 200 KB, like the upload that was reported)."""
    path = OUT / "exports_8192sq.mp4"
    if not path.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        ffmpeg("-f", "lavfi", "-i", "testsrc2=s=8192x8192:r=25:d=2", "-c:v", "libx264", "-preset", "ultrafast",
               "-crf", "40", "-pix_fmt", "yuv420p", str(path) + ".tmp.mp4")
        os.replace(str(path) + ".tmp.mp4", path)
    return path


def movie_2h() -> Path:
    path = OUT / "exports_720p_7200s.mp4"
    if not path.exists():
        part = movie_300s()
        listing = OUT / "exports_7200s.txt"
        listing.write_text("".join(f"file '{part.name}'\n" for _ in range(FILM_S // 300)))
        print(f"generating {path} (once)", file=sys.stderr)
        ffmpeg("-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", str(path) + ".tmp.mp4")
        os.replace(str(path) + ".tmp.mp4", path)
    return path


class TreeMemory:
    """The largest total RSS of this process and its live ffmpeg children at one moment (sampled every 0.1 s), and
    the largest single ffmpeg: the figure that must stay under 1 GB is what is resident at the same time."""

    def __init__(self) -> None:
        import threading

        self.peak_total_kb = self.peak_ffmpeg_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    @staticmethod
    def _rss_kb(pid: str) -> int:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            total = self._rss_kb("self")
            for task in Path("/proc/self/task").iterdir():
                try:
                    children = (task / "children").read_text().split()
                except OSError:
                    continue
                for pid in children:
                    try:
                        rss = self._rss_kb(pid)
                    except OSError:
                        continue
                    total += rss
                    self.peak_ffmpeg_kb = max(self.peak_ffmpeg_kb, rss)
            self.peak_total_kb = max(self.peak_total_kb, total)

    def stop(self) -> tuple[float, float]:
        self._stop.set()
        self._thread.join()
        return self.peak_total_kb / 1024, self.peak_ffmpeg_kb / 1024


def child(args: argparse.Namespace) -> None:
    """One render; prints a JSON line with its time and peak memory."""
    from kissweb.exports import render

    film, out = Path(args.film), OUT / f"exports_{args.case}_{args.at:.0f}.mp4"
    sampler = TreeMemory()
    started = time.perf_counter()
    if args.case == "huge":
        size = render.output_size([(8192, 8192)], max_height=int(args.at))
        render.render_clip(source=film, start_s=0.1, end_s=0.9, size=size, fps=FPS, has_audio=False, output=out)
        output_s = 0.8
    elif args.case == "clip":
        start, end = args.at - 1.0, args.at + 120.0 + 1.0
        render.render_clip(source=film, start_s=start, end_s=end, size=SIZE, fps=FPS, has_audio=True, output=out)
        output_s = end - start
    else:
        cuts = [render.Cut(film, 17.0 + 355.0 * i, 17.0 + 355.0 * i + 30.0, True) for i in range(20)]
        render.render_supercut(cuts=cuts, source_sizes=[SIZE] * len(cuts), size=SIZE, fps=FPS, output=out,
                               crossfade_s=0.5)
        output_s = 20 * 30.0 - 19 * 0.5
    wall = time.perf_counter() - started
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    size_mb = out.stat().st_size / 2**20
    out.unlink()
    tree_mb, biggest_ffmpeg_mb = sampler.stop()
    print(json.dumps({
        "case": args.case, "at_s": args.at, "output_s": output_s, "wall_s": wall, "x_real_time": output_s / wall,
        "python_cpu_s": me.ru_utime + me.ru_stime, "ffmpeg_cpu_s": kids.ru_utime + kids.ru_stime,
        "peak_rss_mb": me.ru_maxrss / 1024, "peak_tree_rss_mb": tree_mb, "biggest_ffmpeg_mb": biggest_ffmpeg_mb,
        "output_mb": size_mb,
    }))


def run_case(case: str, at: float, film: Path) -> dict:
    command = [sys.executable, __file__, "--child", case, "--at", str(at), "--film", str(film)]
    load_before = os.getloadavg()
    done = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT, timeout=3600)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result.update(load_before=load_before, load_after=os.getloadavg())
    return result


def table(results: list[dict]) -> str:
    lines = ["| case | from | output s | wall s | x real time | python CPU s | ffmpeg CPU s | peak RSS MB: python / "
             "python + ffmpegs at once / largest ffmpeg | load avg before -> after |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        where = {"clip": time.strftime("%H:%M:%S", time.gmtime(r["at_s"])), "supercut": "20 scenes over 2 h",
                 "huge": f"8192x8192 -> height {r['at_s']:.0f}"}[r["case"]]
        lines.append(
            f"| {r['case']} | {where} | {r['output_s']:.0f} | {r['wall_s']:.1f} | {r['x_real_time']:.2f} "
            f"| {r['python_cpu_s']:.0f} | {r['ffmpeg_cpu_s']:.0f} | {r['peak_rss_mb']:.0f} / "
            f"{r['peak_tree_rss_mb']:.0f} / {r['biggest_ffmpeg_mb']:.0f} | {r['load_before'][0]:.1f} -> "
            f"{r['load_after'][0]:.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["clip", "supercut", "huge"])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--at", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--film", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.case = args.child
        child(args)
        return
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs", file=sys.stderr)
    results = []
    if args.only == "huge":
        film, cases = movie_huge(), [("huge", 720.0), ("huge", 8192.0)]  # at: the largest height
    else:
        film = movie_2h()
        cases = [("clip", 6000.0), ("clip", 60.0)] if args.only != "supercut" else []
        cases += [("supercut", 0.0)] if args.only != "clip" else []
    for case, at in cases:
        results.append(run_case(case, at, film))
        print(table(results[-1:]), file=sys.stderr)
    print(table(results))
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
