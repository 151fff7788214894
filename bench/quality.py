"""Detection quality on labelled real clips: leave-one-group-out through the real training path.

    ./kiss bench quality --spans ../shared/media/labels.csv [--out bench/out/quality] [--name NAME]
                         [--option KEY=VALUE ...] [--transfer OTHER.csv]

The CSV is what `python -m detector train --spans` reads (path,start_s,end_s,label) plus an optional `group`
column (the clip's source; without it every row is its own group). For every group, a model is trained with
`detector.train.train_from_items` (what `detector train` runs, default options unless --option overrides one) on
all other groups, and the held-out group's clips are scored as `detector detect` scores a video: the whole file
is embedded and scored (the model's temporal smoothing sees the file), then the labelled span's seconds are
kept. Printed: per-second F1/precision/recall at each fold model's own cut (its card's, as `detect` uses it),
false alarms per 10 minutes of not-scene seconds, the best-F1 cut in hindsight, and a per-clip table. Written:
NAME.json (every number, the curve, per-clip rows) and NAME-pr.png (precision-recall curve).

--transfer CSV: also train once on every row of --spans and score the rows of CSV (other looks: generated
transforms, other real clips), reported the same way.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from detector.head import json_default, score  # noqa: E402
from detector.metrics import binary_metrics  # noqa: E402
from detector.quality import (  # noqa: E402
    best_f1_cut, false_alarms_per_10_min, model_cut, precision_recall_curve,
)
from detector.dataset import LabelledItem, cached_embeddings, item_groups, read_items  # noqa: E402
from detector.train import train_from_items  # noqa: E402


def parse_options(pairs: list[str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--option takes KEY=VALUE, got {pair!r}")
        try:
            options[key.replace("-", "_")] = json.loads(value)
        except json.JSONDecodeError:
            options[key.replace("-", "_")] = value
    return options


def score_items(
    items: list[LabelledItem], model, *, cache_dir: Path | None
) -> list[dict[str, Any]]:
    """Per item: its seconds' labels and probabilities, scored over the whole file as `detect` does."""
    rows = []
    cut = model_cut(model.card)
    files: dict[Path, np.ndarray] = {}
    for item in items:
        if item.path not in files:
            arrays = cached_embeddings(item.path, backbones=model.card["backbone_set"], cache_dir=cache_dir)
            features = np.concatenate([arrays["image"], arrays["audio"]], axis=1)
            files[item.path] = np.stack([arrays["times_s"], score(features, model)], axis=1)
        times, probs = files[item.path][:, 0], files[item.path][:, 1]
        if item.start_s is None:
            mask = np.ones(times.size, dtype=bool)
        else:
            mask = (times >= item.start_s) & (times + 1.0 <= item.end_s)
        p = probs[mask].astype(np.float64)
        rows.append({
            "clip": item.describe(), "group": item.group, "label": item.label, "n_seconds": int(mask.sum()),
            "mean_score": round(float(p.mean()), 4) if p.size else None,
            "max_score": round(float(p.max()), 4) if p.size else None,
            "flagged_seconds": int((p >= cut).sum()), "cut": round(cut, 4),
            "probabilities": [round(float(v), 5) for v in p],
        })
    return rows


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    y = np.concatenate([np.full(r["n_seconds"], r["label"]) for r in rows]).astype(int)
    p = np.concatenate([np.asarray(r["probabilities"], dtype=np.float64) for r in rows])
    predicted = np.concatenate([np.asarray(r["probabilities"]) >= r["cut"] for r in rows])
    at_cut = binary_metrics(y, predicted)
    return {
        "at_model_cut": {**at_cut, "false_alarms_per_10_min": false_alarms_per_10_min(y, predicted)},
        "best_f1_cut": best_f1_cut(y, p),
        "curve": precision_recall_curve(y, p),
        "n_seconds": int(y.size), "n_scene_seconds": int(y.sum()), "n_negative_seconds": int((y == 0).sum()),
        "n_clips": len(rows),
    }


def by_folder(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Summaries of the rows of each folder (make_looks writes one folder per look)."""
    folders: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        folders.setdefault(Path(row["clip"].split(" [")[0]).parent.name, []).append(row)
    out = {}
    for name, members in sorted(folders.items()):
        summary = summarise(members)
        out[name] = {key: summary[key] for key in ("at_model_cut", "best_f1_cut", "n_seconds", "n_scene_seconds")}
    return out


def leave_one_group_out(
    items: list[LabelledItem], *, options: dict[str, Any], cache_dir: Path | None, log,
    transfer: list[LabelledItem] | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows of the held-out clips, the folds, and rows of the `transfer` clips whose group was held out."""
    group_ids, names = item_groups(items)
    transfer_rows: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    folds: list[dict[str, Any]] = []
    for gid, name in enumerate(names):
        held = [item for item, g in zip(items, group_ids) if g == gid]
        train = [item for item, g in zip(items, group_ids) if g != gid]
        if len({item.label for item in train}) < 2:
            log(f"  fold {name}: training part holds one label only; skipped")
            folds.append({"group": name, "skipped": "one label in training part"})
            continue
        started = time.perf_counter()
        model, _ = train_from_items(train, cache_dir=cache_dir, **options)
        scored = score_items(held, model, cache_dir=cache_dir)
        for row in scored:
            row["group"] = name
        rows += scored
        transfer_rows += score_items([t for t in transfer or [] if t.group == name], model, cache_dir=cache_dir)
        folds.append({
            "group": name, "n_train_items": len(train), "cut": model_cut(model.card),
            "seconds": round(time.perf_counter() - started, 2),
        })
        log(f"  fold {gid + 1}/{len(names)} {name}: cut {model_cut(model.card):.3f}, "
            + ", ".join(f"{r['clip'].split('/')[-1][:40]} {r['flagged_seconds']}/{r['n_seconds']}" for r in scored))
    return rows, folds, transfer_rows


def pr_plot(curve: dict[str, list[float]], at_cut: dict[str, Any], best: dict[str, float], path: Path,
            title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4.2), dpi=120)
    ax.step(curve["recall"], curve["precision"], where="post", label="all cuts")
    ax.plot([at_cut["recall"]], [at_cut["precision"]], "o", label=f"model cut: F1 {at_cut['f1']:.2f}")
    ax.plot([best["recall"]], [best["precision"]], "s", label=f"best cut {best['cut']:.2f}: F1 {best['f1']:.2f}")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("recall (per second)")
    ax.set_ylabel("precision (per second)")
    ax.set_title(title, fontsize=9)
    ax.legend(loc="lower left", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| clip | group | label | seconds | mean P | max P | flagged | cut |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {Path(r['clip'].split(' [')[0]).name}{' [' + r['clip'].split(' [')[1] if ' [' in r['clip'] else ''} "
            f"| {r['group']} | {r['label']} | {r['n_seconds']} | {r['mean_score']} | {r['max_score']} "
            f"| {r['flagged_seconds']} | {r['cut']:.3f} |"
        )
    return "\n".join(lines)


def headline(summary: dict[str, Any]) -> str:
    m, b = summary["at_model_cut"], summary["best_f1_cut"]
    (tn, fp), (fn, tp) = m["confusion"]
    return (
        f"per-second F1 {m['f1']:.3f} (precision {m['precision']:.3f}, recall {m['recall']:.3f}; tp {tp}, fp {fp}, "
        f"fn {fn}, tn {tn}), false alarms {m['false_alarms_per_10_min']:.1f} per 10 min of not-scene seconds; "
        f"best-F1 cut in hindsight {b['cut']:.3f}: F1 {b['f1']:.3f} (P {b['precision']:.3f}, R {b['recall']:.3f}); "
        f"{summary['n_seconds']} s ({summary['n_scene_seconds']} scene) in {summary['n_clips']} clips"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "quality")
    parser.add_argument("--name", default="quality")
    parser.add_argument("--option", action="append", default=[], help="train_from_items KEY=VALUE (JSON value)")
    parser.add_argument("--transfer", type=Path, help="CSV of other-look clips to score with a model trained on all")
    parser.add_argument("--cache-dir", type=Path)
    args = parser.parse_args(argv)

    options = parse_options(args.option)
    items = read_items(args.spans, spans=True)
    args.out.mkdir(parents=True, exist_ok=True)
    log = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    log(f"leave-one-group-out on {args.spans} ({len(items)} rows), options {options or 'default'}")
    transfer_items = read_items(args.transfer, spans=True) if args.transfer else None
    rows, folds, transfer_logo = leave_one_group_out(
        items, options=options, cache_dir=args.cache_dir, log=log, transfer=transfer_items
    )
    summary = summarise(rows)
    result: dict[str, Any] = {
        "command": " ".join(["./kiss bench quality", *(argv if argv is not None else sys.argv[1:])]),
        "spans": str(args.spans), "options": options, "logo": {**summary, "per_clip": rows, "folds": folds},
    }
    print(f"## {args.name}: leave-one-group-out ({len(folds)} groups)\n")
    print(headline(summary) + "\n")
    print(table(rows) + "\n")
    pr_plot(summary["curve"], summary["at_model_cut"], summary["best_f1_cut"], args.out / f"{args.name}-pr.png",
            f"{args.name}: leave-one-group-out, {summary['n_seconds']} s")

    if transfer_logo:
        held = summarise(transfer_logo)
        result["transfer_logo"] = {"csv": str(args.transfer), **held, "per_clip": transfer_logo,
                                   "by_folder": by_folder(transfer_logo)}
        print(f"## {args.name}: {args.transfer.name} rows scored by the fold model that never saw their group\n")
        print(headline(held) + "\n")
        for folder, summary in result["transfer_logo"]["by_folder"].items():
            print(f"- {folder}: {headline({**summary, 'n_clips': '-'})}")
        print()
    if args.transfer:
        log(f"transfer: train on all of {args.spans}, score {args.transfer}")
        model, _ = train_from_items(items, cache_dir=args.cache_dir, **options)
        transfer_rows = score_items(transfer_items, model, cache_dir=args.cache_dir)
        transfer = summarise(transfer_rows)
        result["transfer"] = {"csv": str(args.transfer), **transfer, "per_clip": transfer_rows,
                              "cut": model_cut(model.card), "by_folder": by_folder(transfer_rows)}
        print(f"## {args.name}: transfer (trained on all of {args.spans.name}, scored on {args.transfer.name})\n")
        print(headline(transfer) + "\n")
        for folder, summary in result["transfer"]["by_folder"].items():
            print(f"- {folder}: {headline({**summary, 'n_clips': '-'})}")
        print()
        pr_plot(transfer["curve"], transfer["at_model_cut"], transfer["best_f1_cut"],
                args.out / f"{args.name}-transfer-pr.png", f"{args.name}: transfer, {transfer['n_seconds']} s")

    result["machine"] = {
        "python": platform.python_version(), "cpus": os.cpu_count(), "wall_s": round(time.perf_counter() - started, 1),
        "load_avg_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    (args.out / f"{args.name}.json").write_text(json.dumps(result, indent=1, default=json_default) + "\n")
    log(f"wrote {args.out / (args.name + '.json')} and {args.name}-pr.png ({result['machine']['wall_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
