"""Detection quality on labelled real clips: leave-one-source-out through the real training path.

    ./kiss bench quality --spans ../shared/media/labels.csv [--out bench/out/quality] [--name NAME]
                         [--option KEY=VALUE ...] [--resamples 1000] [--seed 0]
                         [--learning-curve [--curve-sizes 2,4,8,all] [--curve-repeats 3]]
                         [--step 'NAME: KEY=VALUE KEY=VALUE' ...] [--transfer OTHER.csv] [--list-options]

The CSV is what `python -m detector train --spans` reads (path,start_s,end_s,label) plus an optional `group`
column (the clip's source; without it every row is its own group). For every group, a model is trained with
`detector.train.train_from_items` (what `detector train` runs, default options unless --option overrides one) on
all other groups, and the held-out group's files are scored as `detector detect` scores a video: the whole file
is embedded and scored (the model's temporal smoothing sees the file), then each labelled span's seconds are kept.
Embeddings are cached on disk per file (`detector.dataset.cached_embeddings`), so a second run trains and scores only.

Reported (printed as markdown, every number in NAME.json, the precision-recall curve in NAME-pr.png):
- per-second F1, precision, recall at each fold model's own cut (its card's, as `detect` uses it) and average
  precision over the pooled held-out scores, each with a percentile bootstrap interval over sources (--resamples
  draws of the sources with replacement, numpy seed --seed);
- false-alarm seconds per 10 minutes of not-scene seconds (with its interval);
- scene recall and precision: the fold model's scores of each whole held-out file aggregated into scenes with the
  default scene settings (detector.aggregate's defaults, the card's cut as `detect` uses it), a labelled scene
  span found when a scene overlaps it with IoU >= 0.3 (one scene per span); a scene that matches no span is false
  when at least half of it lies on labelled seconds (unlabelled stretches of a file judge nothing);
- --learning-curve: F1 against the number of labelled sources a fold model is trained on (each fold trains on a
  seeded random draw of that many of the other sources, holding both labels; --curve-repeats draws per size);
- --step (repeatable): an ablation. The base run (--option) and then each step's options added on top of all the
  steps before it, one leave-one-source-out run per row, written as one markdown table NAME-ablation.md.
  A step is `KEY=VALUE [KEY=VALUE ...]`, optionally named `NAME: ...`; values are JSON where they parse
  (`looks=[]`, `l2=0.1`, `audio=true`), else strings (`recipe=paper`). --list-options prints the keys.

--transfer CSV: also train once on every row of --spans and score the rows of CSV (other looks: generated
transforms, other real clips), reported the same way.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from detector.aggregate import (  # noqa: E402
    DEFAULT_MIN_FRAMES, DEFAULT_THRESHOLD, aggregate_probabilities,
)
from detector.errors import DetectorError  # noqa: E402
from detector.head import json_default, score  # noqa: E402
from detector.metrics import average_precision, binary_metrics  # noqa: E402
from detector.quality import (  # noqa: E402
    BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, SCENE_MIN_IOU, SceneMatch, best_f1_cut, bootstrap_interval,
    false_alarms_per_10_min, match_scenes, model_cut, precision_recall_curve,
)
from detector.dataset import LabelledItem, cached_embeddings, item_groups, read_items  # noqa: E402
from detector.train import train_from_items  # noqa: E402

# Arguments of train_from_items that the harness sets itself; every other keyword is an option.
HARNESS_ARGUMENTS = {"items", "cache_dir", "embed_progress", "train_progress", "training_summary"}


def option_names() -> dict[str, Any]:
    """The options --option and --step accept: train_from_items' keywords and their defaults."""
    return {
        name: (None if param.default is inspect.Parameter.empty else param.default)
        for name, param in inspect.signature(train_from_items).parameters.items()
        if name not in HARNESS_ARGUMENTS and param.kind is inspect.Parameter.KEYWORD_ONLY
    }


def parse_options(pairs: list[str]) -> dict[str, Any]:
    known = option_names()
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise SystemExit(f"an option is KEY=VALUE, got {pair!r}")
        if key not in known:
            raise SystemExit(f"unknown option {key!r}; the options are: {', '.join(sorted(known))}")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def parse_step(text: str) -> tuple[str, dict[str, Any]]:
    """'NAME: KEY=VALUE KEY=VALUE' or 'KEY=VALUE ...' (then the name is the text itself) -> (name, options)."""
    name, sep, rest = text.partition(":")
    if not sep or "=" in name:
        name, rest = text.strip(), text
    tokens = shlex.split(rest)
    if not tokens:
        raise SystemExit(f"the step {text!r} changes nothing; give KEY=VALUE")
    return name.strip(), parse_options(tokens)


def score_file(path: Path, model, *, cache_dir: Path | None) -> tuple[np.ndarray, np.ndarray]:
    """(times_s, P(scene)) of every second of the whole file, as `detector detect` scores it."""
    arrays = cached_embeddings(path, backbones=model.card["backbone_set"], cache_dir=cache_dir)
    features = np.concatenate([arrays["image"], arrays["audio"]], axis=1)
    return np.asarray(arrays["times_s"], dtype=np.float64), score(features, model).astype(np.float64)


def span_mask(times: np.ndarray, item: LabelledItem) -> np.ndarray:
    """The whole 1-second windows of an item (every window where it is a whole clip)."""
    if item.start_s is None:
        return np.ones(times.size, dtype=bool)
    return (times >= item.start_s) & (times + 1.0 <= item.end_s)


def score_items(
    items: list[LabelledItem], model, *, cache_dir: Path | None, files: dict[Path, dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Per item: its seconds' labels and probabilities, scored over the whole file as `detect` does. The whole
    files' scores are added to `files` (path -> times, probabilities, cut) where it is given."""
    rows = []
    cut = model_cut(model.card)
    scored: dict[Path, tuple[np.ndarray, np.ndarray]] = {}
    for item in items:
        if item.path not in scored:
            scored[item.path] = score_file(item.path, model, cache_dir=cache_dir)
            if files is not None:
                times, probs = scored[item.path]
                files[item.path] = {"times": times, "probabilities": probs, "cut": cut, "group": item.group}
        times, probs = scored[item.path]
        p = probs[span_mask(times, item)]
        rows.append({
            "clip": item.describe(), "group": item.group, "label": item.label, "n_seconds": int(p.size),
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
        "average_precision": average_precision(y, p),
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
    choose_training: Callable[[str, list[str]], list[str] | None] | None = None,
    files: dict[Path, dict[str, Any]] | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows of the held-out clips, the folds, and rows of the `transfer` clips whose group was held out.

    choose_training(held_out_group, other_groups) -> the groups to train on (None: skip this fold); default all
    others. files: filled with every held-out file's whole-file scores (see score_items)."""
    group_ids, names = item_groups(items)
    transfer_rows: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    folds: list[dict[str, Any]] = []
    for gid, name in enumerate(names):
        held = [item for item, g in zip(items, group_ids) if g == gid]
        others = [other for other in names if other != name]
        chosen = others if choose_training is None else choose_training(name, others)
        if chosen is None:
            folds.append({"group": name, "skipped": "no draw of training sources holds both labels"})
            continue
        chosen_set = set(chosen)
        train = [item for item, g in zip(items, group_ids) if g != gid and names[g] in chosen_set]
        if len({item.label for item in train}) < 2:
            log(f"  fold {name}: training part holds one label only; skipped")
            folds.append({"group": name, "skipped": "one label in training part"})
            continue
        started = time.perf_counter()
        try:
            model, _ = train_from_items(train, cache_dir=cache_dir, **options)
        except DetectorError as error:  # e.g. a drawn source's only not-scene span holds no whole second
            log(f"  fold {name}: not trained ({error}); skipped")
            folds.append({"group": name, "skipped": str(error)})
            continue
        scored = score_items(held, model, cache_dir=cache_dir, files=files)
        for row in scored:
            row["group"] = name
        if files is not None:
            for item in held:
                files[item.path]["group"] = name
        rows += scored
        transfer_rows += score_items([t for t in transfer or [] if t.group == name], model, cache_dir=cache_dir)
        folds.append({
            "group": name, "n_train_items": len(train), "n_train_groups": len(chosen_set), "cut": model_cut(model.card),
            "seconds": round(time.perf_counter() - started, 2),
        })
        log(f"  fold {gid + 1}/{len(names)} {name}: cut {model_cut(model.card):.3f}, "
            + ", ".join(f"{r['clip'].split('/')[-1][:40]} {r['flagged_seconds']}/{r['n_seconds']}" for r in scored))
    return rows, folds, transfer_rows


# --- the protocol's figures -------------------------------------------------------------------------------------


def group_units(rows: list[dict[str, Any]]) -> list[dict[str, np.ndarray]]:
    """One unit per source for the bootstrap: its seconds' labels, probabilities and decisions at the model's cut."""
    units: dict[str, dict[str, list]] = {}
    for row in rows:
        unit = units.setdefault(row["group"], {"y": [], "p": [], "predicted": []})
        probs = np.asarray(row["probabilities"], dtype=np.float64)
        unit["y"].append(np.full(probs.size, row["label"], dtype=np.int64))
        unit["p"].append(probs)
        unit["predicted"].append(probs >= row["cut"])
    return [{key: np.concatenate(parts) for key, parts in unit.items()} | {"group": name}
            for name, unit in units.items()]


def second_figures(units: list[dict[str, Any]]) -> dict[str, float]:
    """Per-second F1, precision, recall, AP and false alarms per 10 min over the pooled seconds of `units`.
    Ratios that a draw leaves undefined (no scene second, no flagged second) are NaN."""
    y = np.concatenate([u["y"] for u in units])
    p = np.concatenate([u["p"] for u in units])
    predicted = np.concatenate([u["predicted"] for u in units])
    tp = int(np.sum((y == 1) & predicted))
    positives, flagged = int(y.sum()), int(predicted.sum())
    recall = tp / positives if positives else float("nan")
    precision = tp / flagged if flagged else (float("nan") if not positives else 0.0)
    f1 = (2 * tp / (positives + flagged)) if positives else float("nan")
    negatives = int((y == 0).sum())
    return {
        "f1": f1, "precision": precision, "recall": recall, "average_precision": average_precision(y, p),
        "false_alarms_per_10_min": false_alarms_per_10_min(y, predicted) if negatives else float("nan"),
    }


def scene_units(
    items: list[LabelledItem], files: dict[Path, dict[str, Any]], *, cut: float | None, min_frames: int,
    threshold: float, min_iou: float = SCENE_MIN_IOU,
) -> list[dict[str, Any]]:
    """Per source: the scenes found in its held-out files (Algorithm 1 on the fold model's whole-file scores, at
    `cut`, or the model's own cut where None) matched against the files' labelled scene spans, and the
    labelled not-scene seconds of those files."""
    by_path: dict[Path, list[LabelledItem]] = {}
    for item in items:
        by_path.setdefault(item.path, []).append(item)
    units: dict[str, dict[str, Any]] = {}
    for path, scored in files.items():
        times, probs = scored["times"], scored["probabilities"]
        segments = aggregate_probabilities(
            probs, cut=scored["cut"] if cut is None else cut, min_frames=min_frames, threshold=threshold,
        )
        detected = [(float(times[round(seg.start_s)]), float(times[round(seg.end_s) - 1]) + 1.0) for seg in segments]
        labelled = by_path.get(path, [])
        end_of_file = float(times[-1]) + 1.0 if times.size else 0.0
        spans = [(it.start_s or 0.0, it.end_s if it.end_s is not None else end_of_file) for it in labelled]
        truth = [span for span, it in zip(spans, labelled) if it.label == 1]
        negative_s = sum(int(span_mask(times, it).sum()) for it in labelled if it.label == 0)
        match = match_scenes(truth, detected, labelled=spans, min_iou=min_iou)
        unit = units.setdefault(scored["group"], {"match": SceneMatch(0, 0, 0, 0, 0), "negative_s": 0})
        unit["match"] = unit["match"] + match
        unit["negative_s"] += negative_s
    return [{"group": name, **unit} for name, unit in units.items()]


def scene_figures(units: list[dict[str, Any]]) -> dict[str, float]:
    match = SceneMatch(0, 0, 0, 0, 0)
    negative_s = 0
    for unit in units:
        match = match + unit["match"]
        negative_s += unit["negative_s"]
    return {
        "recall": match.recall, "precision": match.precision,
        "false_scenes_per_10_min": 600.0 * match.false_scenes / negative_s if negative_s else float("nan"),
        "n_truth": match.n_truth, "n_detected": match.n_detected, "matched": match.matched,
        "false_scenes": match.false_scenes, "unjudged": match.unjudged,
    }


def with_intervals(
    units: list[Any], figures: Callable[[list[Any]], dict[str, float]], names: tuple[str, ...], *, resamples: int,
    seed: int,
) -> dict[str, Any]:
    """The figures on all units, and each named one's bootstrap interval over the units (sources)."""
    value = figures(units)
    out: dict[str, Any] = {key: value[key] for key in value}
    out["interval"] = {
        name: bootstrap_interval(units, lambda draw, name=name: figures(draw)[name], resamples=resamples, seed=seed)
        for name in names
    }
    return out


def protocol_figures(
    items: list[LabelledItem], rows: list[dict[str, Any]], files: dict[Path, dict[str, Any]], *, resamples: int,
    seed: int, scene_cut: float | None = None, min_frames: int = DEFAULT_MIN_FRAMES,
    threshold: float = DEFAULT_THRESHOLD,
) -> dict[str, Any]:
    """Per-second and scene-level figures of one leave-one-source-out run, with intervals over sources."""
    seconds = with_intervals(
        group_units(rows), second_figures,
        ("f1", "precision", "recall", "average_precision", "false_alarms_per_10_min"), resamples=resamples, seed=seed,
    )
    scenes = with_intervals(
        scene_units(items, files, cut=scene_cut, min_frames=min_frames, threshold=threshold), scene_figures,
        ("recall", "precision"), resamples=resamples, seed=seed,
    )
    return {
        "per_second": seconds,
        "scenes": {**scenes, "settings": {"cut": "model" if scene_cut is None else scene_cut,
                                          "min_frames": min_frames, "threshold": threshold, "min_iou": SCENE_MIN_IOU}},
        "n_sources": len({row["group"] for row in rows}), "bootstrap": {"resamples": resamples, "seed": seed},
    }


def number(value: float, digits: int = 2) -> str:
    return "n/a" if value != value else f"{value:.{digits}f}"  # NaN: undefined (e.g. no scene was found)


def with_interval(figures: dict[str, Any], name: str, digits: int = 2) -> str:
    value, interval = figures[name], figures["interval"][name]
    return f"{number(value, digits)} [{number(interval['low'], digits)}, {number(interval['high'], digits)}]"


def protocol_markdown(figures: dict[str, Any]) -> str:
    s, c = figures["per_second"], figures["scenes"]
    settings = c["settings"]
    cut = "the model's cut" if settings["cut"] == "model" else f"cut {settings['cut']}"
    return "\n".join([
        "| figure | value [95% interval over sources] |", "|---|---|",
        f"| per-second F1 (at the model's cut) | {with_interval(s, 'f1')} |",
        f"| per-second precision | {with_interval(s, 'precision')} |",
        f"| per-second recall | {with_interval(s, 'recall')} |",
        f"| average precision | {with_interval(s, 'average_precision')} |",
        f"| false-alarm seconds per 10 min of not-kiss footage | {with_interval(s, 'false_alarms_per_10_min', 1)} |",
        f"| scene recall (IoU >= {settings['min_iou']}; {c['matched']} of {c['n_truth']} scenes) "
        f"| {with_interval(c, 'recall')} |",
        f"| scene precision ({c['false_scenes']} false, {c['unjudged']} on unlabelled seconds) "
        f"| {with_interval(c, 'precision')} |",
        f"| false scenes per 10 min of not-kiss footage | {number(c['false_scenes_per_10_min'], 1)} |",
        "",
        f"{figures['n_sources']} sources; intervals: percentile bootstrap, {figures['bootstrap']['resamples']} "
        f"draws of the sources with replacement, seed {figures['bootstrap']['seed']}. Scenes: {cut}, shortest scene "
        f"{settings['min_frames']} s, share {settings['threshold']}.",
    ])


# --- learning curve and ablation ---------------------------------------------------------------------------------


def curve_sizes(text: str, n_other: int) -> list[int]:
    sizes = []
    for part in text.split(","):
        part = part.strip()
        size = n_other if part == "all" else int(part)
        if size < 2:
            raise SystemExit("a learning-curve size is at least 2 sources (one of each label)")
        sizes.append(min(size, n_other))
    return sorted(set(sizes))


def learning_curve(
    items: list[LabelledItem], *, options: dict[str, Any], sizes: list[int], repeats: int, seed: int,
    cache_dir: Path | None, log, all_sources: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Per size: pooled held-out F1 (and AP) of leave-one-source-out runs whose fold models each train on a seeded
    random draw of `size` other sources holding both labels; one run per repeat. all_sources: the run on all other
    sources with these options, if there is one already (training is deterministic, so it is that point)."""
    group_ids, names = item_groups(items)
    labels_of = {name: {item.label for item, g in zip(items, group_ids) if names[g] == name} for name in names}
    out = []
    for size in sizes:
        runs = []
        if all_sources is not None and size == len(names) - 1:
            figures = second_figures(group_units(all_sources["rows"]))
            runs.append({"repeat": 0, "f1": figures["f1"], "average_precision": figures["average_precision"],
                         "skipped_folds": sum(1 for fold in all_sources["folds"] if "skipped" in fold)})
        for repeat in range(0 if runs else repeats):
            def choose(held: str, others: list[str], size=size, repeat=repeat) -> list[str] | None:
                rng = np.random.default_rng([seed, size, repeat, names.index(held)])
                for _ in range(200):
                    draw = [others[i] for i in rng.choice(len(others), size=min(size, len(others)), replace=False)]
                    if set().union(*(labels_of[name] for name in draw)) == {0, 1}:
                        return draw
                return None

            rows, folds, _ = leave_one_group_out(
                items, options=options, cache_dir=cache_dir, log=lambda text: None, choose_training=choose,
            )
            figures = second_figures(group_units(rows)) if rows else {"f1": np.nan, "average_precision": np.nan}
            runs.append({"repeat": repeat, "f1": figures["f1"], "average_precision": figures["average_precision"],
                         "skipped_folds": sum(1 for fold in folds if "skipped" in fold)})
            if size == max(len(names) - 1, 2):
                break  # every draw of all other sources is the same run
        f1 = np.array([run["f1"] for run in runs if run["f1"] == run["f1"]], dtype=np.float64)
        ap = np.array([run["average_precision"] for run in runs if run["average_precision"] == run["average_precision"]])
        out.append({"sources": size, "f1_mean": float(f1.mean()) if f1.size else np.nan,
                    "f1_min": float(f1.min()) if f1.size else np.nan, "f1_max": float(f1.max()) if f1.size else np.nan,
                    "ap_mean": float(ap.mean()) if ap.size else np.nan, "runs": runs})
        log(f"  learning curve: {size} sources: F1 {number(out[-1]['f1_mean'], 3)} "
            f"({number(out[-1]['f1_min'], 3)}-{number(out[-1]['f1_max'], 3)}, {len(runs)} draws)")
    return out


def curve_markdown(curve: list[dict[str, Any]]) -> str:
    lines = ["| training sources | F1 mean (min-max over draws) | AP mean | draws | folds skipped |",
             "|---|---|---|---|---|"]
    for point in curve:
        lines.append(
            f"| {point['sources']} | {number(point['f1_mean'], 3)} ({number(point['f1_min'], 3)}-"
            f"{number(point['f1_max'], 3)}) | {number(point['ap_mean'], 3)} | {len(point['runs'])} "
            f"| {sum(run['skipped_folds'] for run in point['runs'])} |"
        )
    return "\n".join(lines)


def ablation_markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| step | options (cumulative) | F1 [95%] | precision | recall | AP [95%] | false alarms / 10 min "
        "| scene recall | scene precision | wall s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        s, c = row["figures"]["per_second"], row["figures"]["scenes"]
        options = " ".join(f"{key}={json.dumps(value)}" for key, value in row["options"].items()) or "(default)"
        lines.append(
            f"| {row['name']} | `{options}` | {with_interval(s, 'f1')} | {number(s['precision'])} "
            f"| {number(s['recall'])} "
            f"| {with_interval(s, 'average_precision')} | {number(s['false_alarms_per_10_min'], 1)} "
            f"| {number(c['recall'])} ({c['matched']}/{c['n_truth']}) | {number(c['precision'])} | {row['wall_s']:.0f} |"
        )
    return "\n".join(lines)


# --- output -----------------------------------------------------------------------------------------------------


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


def run_protocol(
    items: list[LabelledItem], *, options: dict[str, Any], cache_dir: Path | None, log, resamples: int, seed: int,
    transfer: list[LabelledItem] | None = None,
) -> dict[str, Any]:
    """One leave-one-source-out run and its figures."""
    started = time.perf_counter()
    files: dict[Path, dict[str, Any]] = {}
    rows, folds, transfer_rows = leave_one_group_out(
        items, options=options, cache_dir=cache_dir, log=log, transfer=transfer, files=files,
    )
    if not rows:
        raise SystemExit("no fold could be trained: every source's complement holds one label only")
    return {
        "rows": rows, "folds": folds, "transfer_rows": transfer_rows, "summary": summarise(rows),
        "figures": protocol_figures(items, rows, files, resamples=resamples, seed=seed),
        "wall_s": time.perf_counter() - started,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=Path)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "quality")
    parser.add_argument("--name", default="quality")
    parser.add_argument("--option", action="append", default=[], help="train_from_items KEY=VALUE (JSON value)")
    parser.add_argument("--resamples", type=int, default=BOOTSTRAP_RESAMPLES, help="bootstrap draws of the sources")
    parser.add_argument("--seed", type=int, default=BOOTSTRAP_SEED, help="seed of the bootstrap and the curve's draws")
    parser.add_argument("--learning-curve", action="store_true", help="F1 against the number of training sources")
    parser.add_argument("--curve-sizes", default="2,4,8,all")
    parser.add_argument("--curve-repeats", type=int, default=3)
    parser.add_argument("--step", action="append", default=[],
                        help="ablation step 'NAME: KEY=VALUE ...', added on top of the steps before it")
    parser.add_argument("--list-options", action="store_true", help="print the option keys and their defaults")
    parser.add_argument("--transfer", type=Path, help="CSV of other-look clips to score with a model trained on all")
    parser.add_argument("--cache-dir", type=Path)
    args = parser.parse_args(argv)

    if args.list_options:
        for key, default in option_names().items():
            print(f"{key}={json.dumps(default, default=str)}")
        return 0
    if args.spans is None:
        parser.error("--spans is required")
    options = parse_options(args.option)
    steps = [parse_step(text) for text in args.step]
    items = read_items(args.spans, spans=True)
    args.out.mkdir(parents=True, exist_ok=True)
    log = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    load_before = os.getloadavg()[0]
    cpu_before = os.times()
    started = time.perf_counter()
    log(f"leave-one-source-out on {args.spans} ({len(items)} rows), options {options or 'default'}")
    transfer_items = read_items(args.transfer, spans=True) if args.transfer else None
    run = run_protocol(items, options=options, cache_dir=args.cache_dir, log=log, resamples=args.resamples,
                       seed=args.seed, transfer=transfer_items)
    rows, summary, figures = run["rows"], run["summary"], run["figures"]
    result: dict[str, Any] = {
        "command": " ".join(["./kiss bench quality", *(shlex.quote(a) for a in (argv if argv is not None
                                                                                 else sys.argv[1:]))]),
        "spans": str(args.spans), "options": options, "protocol": figures,
        "logo": {**summary, "per_clip": rows, "folds": run["folds"]},
    }
    print(f"## {args.name}: leave-one-source-out ({len(run['folds'])} sources)\n")
    print(protocol_markdown(figures) + "\n")
    print(headline(summary) + "\n")
    print(table(rows) + "\n")
    pr_plot(summary["curve"], summary["at_model_cut"], summary["best_f1_cut"], args.out / f"{args.name}-pr.png",
            f"{args.name}: leave-one-source-out, {summary['n_seconds']} s")

    if args.learning_curve:
        _, names = item_groups(items)
        curve = learning_curve(items, options=options, sizes=curve_sizes(args.curve_sizes, len(names) - 1),
                               repeats=args.curve_repeats, seed=args.seed, cache_dir=args.cache_dir, log=log,
                               all_sources=run)
        result["learning_curve"] = curve
        print(f"## {args.name}: learning curve (F1 at the model's cut against training sources)\n")
        print(curve_markdown(curve) + "\n")

    if steps:
        ablation = [{"name": "base", "options": dict(options), "figures": figures, "wall_s": run["wall_s"]}]
        cumulative = dict(options)
        for name, change in steps:
            cumulative = {**cumulative, **change}
            log(f"ablation step {name}: {cumulative}")
            step_run = run_protocol(items, options=cumulative, cache_dir=args.cache_dir, log=log,
                                    resamples=args.resamples, seed=args.seed)
            ablation.append({"name": name, "options": dict(cumulative), "figures": step_run["figures"],
                             "summary": {k: step_run["summary"][k] for k in ("at_model_cut", "best_f1_cut")},
                             "wall_s": step_run["wall_s"]})
        result["ablation"] = ablation
        text = ablation_markdown(ablation)
        (args.out / f"{args.name}-ablation.md").write_text(
            f"Ablation: `{result['command']}` (each row adds its step to all rows above it)\n\n{text}\n"
        )
        print(f"## {args.name}: ablation, one change at a time (each row adds its step to the rows above)\n")
        print(text + "\n")

    transfer_logo = run["transfer_rows"]
    if transfer_logo:
        held = summarise(transfer_logo)
        result["transfer_logo"] = {"csv": str(args.transfer), **held, "per_clip": transfer_logo,
                                   "by_folder": by_folder(transfer_logo)}
        print(f"## {args.name}: {args.transfer.name} rows scored by the fold model that never saw their group\n")
        print(headline(held) + "\n")
        for folder, part in result["transfer_logo"]["by_folder"].items():
            print(f"- {folder}: {headline({**part, 'n_clips': '-'})}")
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
        for folder, part in result["transfer"]["by_folder"].items():
            print(f"- {folder}: {headline({**part, 'n_clips': '-'})}")
        print()
        pr_plot(transfer["curve"], transfer["at_model_cut"], transfer["best_f1_cut"],
                args.out / f"{args.name}-transfer-pr.png", f"{args.name}: transfer, {transfer['n_seconds']} s")

    cpu_after = os.times()
    result["machine"] = {
        "python": platform.python_version(), "cpus": os.cpu_count(), "wall_s": round(time.perf_counter() - started, 1),
        "cpu_s": round((cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system), 1),
        "load_avg_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    (args.out / f"{args.name}.json").write_text(json.dumps(result, indent=1, default=json_default) + "\n")
    log(f"wrote {args.out / (args.name + '.json')} and {args.name}-pr.png ({result['machine']['wall_s']} s wall, "
        f"{result['machine']['cpu_s']} s CPU)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
