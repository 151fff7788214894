"""Scene settings measured on labelled real clips: which shortest scene, share and cut find real kisses.

    ./kiss bench scenes --spans ../shared/media/labels.csv [--option KEY=VALUE ...] [--smooth 1,3,5]
                        [--min-frames 1,2,3,4,5,6,8,10] [--thresholds 0.5,0.6,0.7,0.8,1.0] [--cuts model,0.5,0.4]

Each source's files are scored by a model trained without that source (leave-one-source-out through the real
training path, as `./kiss bench quality` does; default recipe unless --option), and the whole files' per-second
scores are turned into scenes by Algorithm 1 with every combination of the settings. A labelled scene span counts
as found when a scene overlaps it with IoU >= 0.3 (one scene per span); a scene matching no span is false when at
least half of it lies on labelled seconds. --smooth retrains with each temporal smoothing (the recipe's
`smooth_s`). Printed: one markdown table per smoothing, with the preset rows marked; written: NAME.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.quality import (  # noqa: E402
    leave_one_group_out, number, parse_options, scene_figures, scene_units, with_intervals,
)
from detector.aggregate import PRESETS  # noqa: E402
from detector.head import json_default  # noqa: E402
from detector.quality import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED  # noqa: E402
from detector.train import read_items  # noqa: E402


def numbers(text: str, kind=float) -> list:
    return [kind(part) for part in text.split(",") if part.strip()]


def preset_of(cut: float | None, min_frames: int, threshold: float) -> str:
    names = [p.name for p in PRESETS.values()
             if p.min_frames == min_frames and p.threshold == threshold and (cut is None or p.cut == cut)]
    return ", ".join(names)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "scenes")
    parser.add_argument("--name", default="scenes")
    parser.add_argument("--option", action="append", default=[], help="train_from_items KEY=VALUE (JSON value)")
    parser.add_argument("--smooth", default="", help="smooth_s values to retrain with (default: the recipe's)")
    parser.add_argument("--min-frames", default="1,2,3,4,5,6,8,10")
    parser.add_argument("--thresholds", default="0.5,0.6,0.7,0.8,1.0")
    parser.add_argument("--cuts", default="model,0.5", help="'model' is the card's cut, as `detect` uses it")
    parser.add_argument("--resamples", type=int, default=BOOTSTRAP_RESAMPLES)
    parser.add_argument("--seed", type=int, default=BOOTSTRAP_SEED)
    parser.add_argument("--cache-dir", type=Path)
    args = parser.parse_args(argv)

    options = parse_options(args.option)
    items = read_items(args.spans, spans=True)
    args.out.mkdir(parents=True, exist_ok=True)
    log = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    cuts = [None if part.strip() == "model" else float(part) for part in args.cuts.split(",")]
    smooths = numbers(args.smooth, int) or [None]
    started, cpu_before = time.perf_counter(), os.times()
    result: dict[str, Any] = {"command": " ".join(["./kiss bench scenes", *(argv if argv is not None else sys.argv[1:])]),
                              "options": options, "runs": []}
    for smooth in smooths:
        run_options = dict(options) if smooth is None else {**options, "smooth_s": smooth}
        log(f"leave-one-source-out, options {run_options or 'default'}")
        files: dict[Path, dict[str, Any]] = {}
        leave_one_group_out(items, options=run_options, cache_dir=args.cache_dir, log=log, files=files)
        rows = []
        for cut in cuts:
            for min_frames in numbers(args.min_frames, int):
                for threshold in numbers(args.thresholds):
                    units = scene_units(items, files, cut=cut, min_frames=min_frames, threshold=threshold)
                    figures = with_intervals(units, scene_figures, ("recall", "precision"),
                                             resamples=args.resamples, seed=args.seed)
                    rows.append({"cut": "model" if cut is None else cut, "min_frames": min_frames,
                                 "threshold": threshold, "preset": preset_of(cut, min_frames, threshold), **figures})
        result["runs"].append({"options": run_options, "rows": rows})
        print(f"## smoothing: {'the recipe default' if smooth is None else f'smooth_s={smooth}'}\n")
        print("| cut | shortest scene (s) | share | scene recall [95%] | scene precision [95%] | false scenes "
              "/ 10 min | found / kisses | false | unjudged | preset |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for row in rows:
            print(f"| {row['cut']} | {row['min_frames']} | {row['threshold']} "
                  f"| {number(row['recall'])} [{number(row['interval']['recall']['low'])}, "
                  f"{number(row['interval']['recall']['high'])}] "
                  f"| {number(row['precision'])} [{number(row['interval']['precision']['low'])}, "
                  f"{number(row['interval']['precision']['high'])}] "
                  f"| {number(row['false_scenes_per_10_min'], 1)} | {row['matched']}/{row['n_truth']} "
                  f"| {row['false_scenes']} | {row['unjudged']} | {row['preset']} |")
        print()
    cpu_after = os.times()
    result["machine"] = {"wall_s": round(time.perf_counter() - started, 1),
                         "cpu_s": round(cpu_after.user + cpu_after.system - cpu_before.user - cpu_before.system, 1),
                         "load_avg": round(os.getloadavg()[0], 2)}
    (args.out / f"{args.name}.json").write_text(json.dumps(result, indent=1, default=json_default) + "\n")
    log(f"wrote {args.out / (args.name + '.json')} ({result['machine']['wall_s']} s wall, "
        f"{result['machine']['cpu_s']} s CPU)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
