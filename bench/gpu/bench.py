"""GPU benchmark: one long film and a library of films at once, through the real analysis path (detector.detect).

    python bench/gpu/bench.py --out DIR                       # on a CUDA host: 2 h film + 16 x 30 min films
    python bench/gpu/bench.py --out DIR --film-s 120 --library-films 2 --library-s 60 --workers ffmpeg:2   # a dry run

The short clip (1280x720 25 fps H.264 at 2.5 Mbit/s + AAC, as bench/embed.py's) is generated once and joined into
the long films without re-encoding (ffmpeg's concat demuxer, -c copy). Every film runs in a fresh process, so each
figure includes start-up (Python, torch, CUDA, the networks, opening decoders): single_x = film seconds / wall.
A library run starts all its worker processes at once; each takes films from one shared queue and runs them with its
decoder (nvdec:N:K = N processes reading with K NVDEC decoders per film; ffmpeg:N = N processes decoding on the CPU
with the networks still on the GPU; a "/threads" suffix runs that many analyses as threads of one process).
library_x = all films' seconds / wall of the whole run.
Peak GPU memory is nvidia-smi's memory.used, sampled every 0.2 s (decoders and CUDA contexts included); host RSS is the
sum of the worker processes' peaks (getrusage) and their ffmpeg children's.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def ffmpeg(*args: str) -> None:
    from detector.decode import ffmpeg_exe

    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True, timeout=1800)


def make_clip(folder: Path, seconds: int) -> Path:
    path = folder / f"clip_720p_{seconds}s.mp4"
    if not path.exists():
        ffmpeg("-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate=25:duration={seconds}",
               "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
               "-c:v", "libx264", "-preset", "veryfast", "-b:v", "2500k", "-maxrate", "2500k", "-bufsize", "5000k",
               "-g", "250", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-t", str(seconds), str(path))
    return path


def join(clip: Path, copies: int, out: Path) -> Path:
    """`copies` copies of the clip end to end, packets copied (no re-encoding)."""
    if not out.exists():
        listing = out.with_suffix(".txt")
        listing.write_text("".join(f"file '{clip.resolve()}'\n" for _ in range(copies)))
        ffmpeg("-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", str(out))
    return out


class GpuMemory:
    """Peak memory.used of GPU 0 by nvidia-smi, sampled (it counts decoders and CUDA contexts, not only torch's)."""

    def __init__(self) -> None:
        self.peak_mb = 0.0
        self.baseline_mb = self._used()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @staticmethod
    def _used() -> float:
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits", "-i", "0"],
                                 capture_output=True, text=True, timeout=10).stdout
            return float(out.strip().splitlines()[0])
        except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
            return 0.0

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.peak_mb = max(self.peak_mb, self._used())

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        return {"gpu_peak_mb": round(self.peak_mb), "gpu_baseline_mb": round(self.baseline_mb)}


def worker(spec: dict, films: "mp.Queue", results: "mp.Queue") -> None:
    """One analysis worker process: imports, then films from the queue until it is empty (networks warmed once)."""
    started = time.perf_counter()
    import warnings

    import numpy as np

    warnings.simplefilter("ignore", UserWarning)
    from detector.api import detect
    from detector.head import SceneModel

    model = SceneModel(weight=np.zeros((2, 512 + 128), np.float32), bias=np.zeros(2, np.float32),
                       card={"backbone_set": "paper", "training": {"random_init_backbones": True}})
    done, errors = [], []

    def analyse() -> None:
        while not errors:
            try:
                path = films.get_nowait()
            except Exception:  # noqa: BLE001 - queue.Empty from another module
                return
            t0 = time.perf_counter()
            try:
                result = detect(path, model=model, device=spec.get("device"), decoder=spec["decoder"],
                                batch_size=spec.get("batch_size", 64), decoders=spec.get("k"))
            except Exception as exc:  # noqa: BLE001 - reported, so the run ends instead of waiting for this worker
                import traceback

                errors.append(f"{type(exc).__name__}: {exc}\n{traceback.format_exc()[-2000:]}")
                return
            done.append({"film": Path(path).name, "wall_s": time.perf_counter() - t0,
                         "duration_s": result.duration_s, "decoding": result.decoding,
                         "timings_s": {k: round(v, 3) for k, v in result.timings_s.items()},
                         "segments": len(result.segments)})

    # "threads": this process runs that many analyses at once, one CUDA context for them all
    pool = [threading.Thread(target=analyse) for _ in range(spec.get("threads", 1))]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    error = errors[0] if errors else ""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    results.put({"spec": spec, "films": done, "error": error, "process_s": time.perf_counter() - started,
                 "rss_mb": own.ru_maxrss / 1024, "ffmpeg_rss_mb": kids.ru_maxrss / 1024,
                 "cpu_s": own.ru_utime + own.ru_stime, "ffmpeg_cpu_s": kids.ru_utime + kids.ru_stime})


def parse_workers(text: str) -> list[dict]:
    """"nvdec:9:1,ffmpeg:7" -> 9 NVDEC processes with 1 decoder per film, 7 ffmpeg processes;
    "nvdec:16:1/threads" -> one process running 16 analyses at once as threads."""
    specs = []
    for part in filter(None, text.split(",")):
        part, threads = (part[:-len("/threads")], True) if part.endswith("/threads") else (part, False)
        fields = part.split(":")
        count = int(fields[1])
        spec = {"decoder": fields[0]}
        if fields[0] == "nvdec":
            spec["k"] = int(fields[2]) if len(fields) > 2 else 1
        specs += [{**spec, "threads": count}] if threads else [dict(spec) for _ in range(count)]
    return specs


def run_films(paths: list[Path], specs: list[dict], *, device: str | None) -> dict:
    ctx = mp.get_context("spawn")
    films, results = ctx.Queue(), ctx.Queue()
    for path in paths:
        films.put(str(path))
    memory = GpuMemory()
    started = time.perf_counter()
    procs = [ctx.Process(target=worker, args=({**spec, "device": device}, films, results)) for spec in specs]
    for proc in procs:
        proc.start()
    reports = []
    while len(reports) < len(procs):
        try:
            reports.append(results.get(timeout=5))
        except Exception:  # noqa: BLE001 - queue.Empty: check that no worker died without a report
            if all(not p.is_alive() for p in procs) and len(reports) < len(procs):
                time.sleep(2)
                while not results.empty():
                    reports.append(results.get())
                if len(reports) < len(procs):
                    raise RuntimeError("a worker process died without a report") from None
    for r in reports:
        if r["error"]:
            print(f"worker error: {r['error']}", file=sys.stderr, flush=True)
    wall = time.perf_counter() - started
    for proc in procs:
        proc.join(timeout=60)
    seconds = sum(f["duration_s"] for r in reports for f in r["films"])
    by_backend: dict[str, float] = {}
    for r in reports:
        for f in r["films"]:
            by_backend[f["decoding"]["backend"]] = by_backend.get(f["decoding"]["backend"], 0.0) + f["duration_s"]
    return {
        "films": sum(len(r["films"]) for r in reports), "film_s": seconds, "wall_s": round(wall, 2),
        "x_real_time": round(seconds / wall, 1), "film_s_by_backend": by_backend,
        "host_rss_mb": round(sum(r["rss_mb"] + r["ffmpeg_rss_mb"] for r in reports)),
        "python_cpu_s": round(sum(r["cpu_s"] for r in reports), 1),
        "ffmpeg_cpu_s": round(sum(r["ffmpeg_cpu_s"] for r in reports), 1),
        **memory.stop(), "workers": reports,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--media", type=Path, default=Path("/tmp/kissweb-gpu-media"))
    parser.add_argument("--clip-s", type=int, default=60)
    parser.add_argument("--film-s", type=int, default=7200)
    parser.add_argument("--single-k", type=int, default=4, help="NVDEC decoders for the one long film")
    parser.add_argument("--library-films", type=int, default=16)
    parser.add_argument("--library-s", type=int, default=1800)
    parser.add_argument("--workers", action="append", default=None,
                        help="library worker sets to try, e.g. nvdec:9:1,ffmpeg:7 (repeatable; the best is reported)")
    parser.add_argument("--device", default=None)
    parser.add_argument("--budget-s", type=float, default=1e9, help="skip further library runs past this")
    args = parser.parse_args()
    begun = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    args.media.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    clip = make_clip(args.media, args.clip_s)
    film = join(clip, args.film_s // args.clip_s, args.media / f"film_{args.film_s}s.mp4")
    part = join(clip, args.library_s // args.clip_s, args.media / f"part_{args.library_s}s.mp4")
    library = []
    for i in range(args.library_films):  # hard links: one file's bytes, films that are separate paths
        link = args.media / f"library_{i:02d}.mp4"
        if not link.exists():
            try:
                os.link(part, link)
            except OSError:
                shutil.copyfile(part, link)
        library.append(link)
    results: dict = {"media_s": round(time.perf_counter() - t, 1)}
    print(f"media ready in {results['media_s']} s", flush=True)

    def save() -> None:
        (args.out / "bench_gpu.json").write_text(json.dumps(results, indent=1))

    decoder = "nvdec" if (args.device or "cuda") != "cpu" else "ffmpeg"
    single = run_films([film], [{"decoder": decoder, "k": args.single_k}], device=args.device)
    results["single"] = single
    print(f"single: {single['film_s']:.0f} s film in {single['wall_s']} s = {single['x_real_time']}x "
          f"({single['workers'][0]['films'][0]['decoding']}), GPU peak {single['gpu_peak_mb']} MB, "
          f"RSS {single['host_rss_mb']} MB", flush=True)
    save()
    results["library"] = []
    for workers in args.workers or ["nvdec:9:1,ffmpeg:7"]:
        if time.perf_counter() - begun > args.budget_s:
            print(f"library {workers}: skipped (budget)", flush=True)
            continue
        run = run_films(library, parse_workers(workers), device=args.device)
        run["worker_set"] = workers
        results["library"].append(run)
        print(f"library {workers}: {run['films']} films, {run['film_s']:.0f} s in {run['wall_s']} s = "
              f"{run['x_real_time']}x (by backend {run['film_s_by_backend']}), GPU peak {run['gpu_peak_mb']} MB, "
              f"RSS {run['host_rss_mb']} MB, CPU s python {run['python_cpu_s']} ffmpeg {run['ffmpeg_cpu_s']}",
              flush=True)
        save()
    best = max(results["library"], key=lambda r: r["x_real_time"]) if results["library"] else None
    try:
        import torch

        device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    except ImportError:
        device = "cpu"
    results["device"] = device
    save()
    library_x = best["x_real_time"] if best else "n/a"
    films = best["films"] if best else 0
    print(f"single_x={single['x_real_time']} library_x={library_x} films={films} device={device.replace(' ', '_')}")


if __name__ == "__main__":
    main()
