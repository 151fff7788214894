"""Benchmark: embed_video speed and memory on a generated 1280x720 H.264 + AAC movie.

    .venv/bin/python bench/embed.py                       # 300 s movie, paper (random init) and offline sets
    .venv/bin/python bench/embed.py --long                # also the 60-minute movie (memory check), paper set
    .venv/bin/python bench/embed.py --sets paper --exact-frames
    .venv/bin/python bench/embed.py --sets offline --with-looks   # + the training looks' cost (few-shot recipe)

Each run happens in a fresh child process so its peak RSS (getrusage of the child, ffmpeg reported apart) is its
own. Movies are generated once into bench/out/ (git-ignored) with ffmpeg's testsrc2 + sine at ~2.5 Mbit/s.
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
OUT = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT))


def ffmpeg(*args: str) -> None:
    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args],
                   check=True, timeout=3600)


def movie_300s() -> Path:
    path = OUT / "embed_720p_300s.mp4"
    if not path.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        print(f"generating {path} (once)", file=sys.stderr)
        ffmpeg("-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25:duration=300",
               "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=300",
               "-c:v", "libx264", "-preset", "veryfast", "-b:v", "2500k", "-maxrate", "2500k", "-bufsize", "5000k",
               "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-t", "300", str(path) + ".tmp.mp4")
        os.replace(str(path) + ".tmp.mp4", path)
    return path


def movie_3600s() -> Path:
    """Twelve copies of the 300 s movie joined without re-encoding (the memory check needs length, not variety)."""
    path = OUT / "embed_720p_3600s.mp4"
    if not path.exists():
        part = movie_300s()
        listing = OUT / "embed_3600s.txt"
        listing.write_text("".join(f"file '{part.name}'\n" for _ in range(12)))
        print(f"generating {path} (once)", file=sys.stderr)
        ffmpeg("-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", str(path) + ".tmp.mp4")
        os.replace(str(path) + ".tmp.mp4", path)
    return path


class FFmpegMemory:
    """Peak RSS (VmHWM) of this process's ffmpeg children, sampled; getrusage cannot tell them apart."""

    def __init__(self) -> None:
        import threading

        self.peaks: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            for task in Path("/proc/self/task").iterdir():
                try:
                    children = (task / "children").read_text().split()
                except OSError:
                    continue
                for pid in children:
                    try:
                        if "ffmpeg" not in Path(f"/proc/{pid}/cmdline").read_text():
                            continue
                        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                            if line.startswith("VmHWM:"):
                                self.peaks[int(pid)] = max(self.peaks.get(int(pid), 0), int(line.split()[1]))
                    except OSError:
                        continue

    def stop_mb(self) -> float:
        self._stop.set()
        self._thread.join()
        return sum(self.peaks.values()) / 1024


def child(args: argparse.Namespace) -> None:
    """One embed run; prints a JSON line with its timings and peak memory."""
    import warnings

    import numpy as np

    warnings.simplefilter("ignore", UserWarning)
    from detector.embed import embed_video

    sampler = FFmpegMemory()
    started = time.perf_counter()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    looks = tuple(args.looks.split(",")) if args.looks else ()
    emb = embed_video(args.child, backbones=args.set, random_init=args.random_init, batch_size=args.batch_size,
                      exact_frames=args.exact_frames, looks=looks)
    wall = time.perf_counter() - started
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    ff = resource.getrusage(resource.RUSAGE_CHILDREN)
    rng = np.random.default_rng(0)
    features = emb.features()
    weight, bias = rng.normal(size=(2, features.shape[1])).astype(np.float32), np.zeros(2, np.float32)
    head_started = time.perf_counter()
    logits = features @ weight.T + bias
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    (p[:, 1] / p.sum(axis=1)).astype(np.float32)
    head = time.perf_counter() - head_started
    # the head as detect runs it: detector.head.score, plain (paper) and with the few-shot card's smoothing
    from detector.head import SceneModel, score

    plain = SceneModel(weight=weight, bias=bias, card={})
    smoothing = SceneModel(weight=weight, bias=bias, card={"scoring": {"smooth_s": 3, "cut": 0.6}})
    head_started = time.perf_counter()
    score(features, plain)
    head_score = time.perf_counter() - head_started
    head_started = time.perf_counter()
    score(features, smoothing)
    head_smooth = time.perf_counter() - head_started
    print(json.dumps({
        "set": emb.backbone_set, "windows": len(emb.times_s), "duration_s": emb.duration_s, "wall_s": wall,
        "timings_s": emb.timings_s, "head_s": head, "head_score_s": head_score, "head_smooth_s": head_smooth,
        "looks": len(looks),
        "python_cpu_s": (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime),
        "ffmpeg_cpu_s": ff.ru_utime + ff.ru_stime,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "ffmpeg_peak_rss_mb": sampler.stop_mb(),
        "precision": emb.precision,
    }))


def run_case(movie: Path, name: str, args: argparse.Namespace, looks: str = "") -> dict:
    command = [sys.executable, __file__, "--child", str(movie), "--set", name, "--batch-size", str(args.batch_size)]
    if name == "paper" and args.random_init:
        command.append("--random-init")
    if args.exact_frames:
        command.append("--exact-frames")
    if looks:
        command += ["--looks", looks]
    load_before = os.getloadavg()
    done = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result.update(movie=movie.name, load_before=load_before, load_after=os.getloadavg(),
                  realtime_factor=result["duration_s"] / result["wall_s"])
    return result


def table(results: list[dict]) -> str:
    lines = [
        "| movie | set | windows | wall s | x real time | decode wait s | ffmpeg CPU s | image s | audio s | head ms "
        "| load+probe s | python CPU s | peak RSS MB (python / ffmpeg) | load avg before -> after "
        "| score() ms plain / smoothed |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        t = r["timings_s"]
        lines.append(
            f"| {r['movie']} | {r['set']} ({r['precision']}{', +%d training looks' % r['looks'] if r.get('looks') else ''}) | {r['windows']} | {r['wall_s']:.1f} | {r['realtime_factor']:.1f} "
            f"| {t['decode_wait']:.1f} | {r['ffmpeg_cpu_s']:.1f} | {t['image']:.1f} | {t['audio']:.1f} "
            f"| {r['head_s'] * 1000:.1f} | {t['probe_load']:.1f} | {r['python_cpu_s']:.1f} | {r['peak_rss_mb']:.0f} / {r['ffmpeg_peak_rss_mb']:.0f} "
            f"| {r['load_before'][0]:.1f} -> {r['load_after'][0]:.1f} "
            f"| {r['head_score_s'] * 1000:.1f} / {r['head_smooth_s'] * 1000:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", default="paper,offline")
    parser.add_argument("--long", action="store_true", help="also embed the 60-minute movie (paper set)")
    parser.add_argument("--only-long", action="store_true", help="only the 60-minute movie")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--pretrained-paper", dest="random_init", action="store_false",
                        help="use the real paper weights (default: random init, same speed)")
    parser.add_argument("--exact-frames", action="store_true", help="decode every H.264 frame")
    parser.add_argument("--with-looks", action="store_true",
                        help="also the offline set with every training look (detector.looks; training cost only)")
    parser.add_argument("--looks", default="", help=argparse.SUPPRESS)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--set", help=argparse.SUPPRESS)
    parser.add_argument("--random-init", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    import torch

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch "
          f"{torch.__version__} ({torch.get_num_threads()} threads), CUDA: "
          f"{torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'none'}",
          file=sys.stderr)
    results = []
    if not args.only_long:
        for name in args.sets.split(","):
            results.append(run_case(movie_300s(), name, args))
            print(table(results[-1:]), file=sys.stderr)
        if args.with_looks:
            from detector.looks import DEFAULT_LOOKS

            results.append(run_case(movie_300s(), "offline", args, looks=",".join(DEFAULT_LOOKS)))
            print(table(results[-1:]), file=sys.stderr)
    if args.long or args.only_long:
        results.append(run_case(movie_3600s(), "paper", args))
        print(table(results[-1:]), file=sys.stderr)
    print(table(results))
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
