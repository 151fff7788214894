"""Evaluating a model on labelled clips or spans: per-second metrics and per-clip results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from detector.dataset import Progress, items_to_arrays, read_items
from detector.head import SceneModel, score
from detector.metrics import binary_metrics, group_results


def evaluate_from_csv(
    csv_path: str | Path,
    model: SceneModel,
    *,
    spans: bool = False,
    cache_dir: Path | None = None,
    random_init: bool | None = None,
    device: str | None = None,
    cut: float | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The model's per-second metrics over every clip/span of the CSV, and per-clip results.

    random_init None follows the card (a model trained on randomly initialised backbones is evaluated on them).
    cut None is the card's cut (`detector.quality.model_cut`). Each clip/span is scored on its own (the model's
    temporal smoothing stays inside it).
    """
    from detector.quality import model_cut

    if cut is None:
        cut = model_cut(model.card)
    if random_init is None:
        random_init = bool((model.card.get("training") or {}).get("random_init_backbones", False))
    items = read_items(csv_path, spans=spans)
    x, y, g, warnings = items_to_arrays(
        items, backbones=model.card["backbone_set"], cache_dir=cache_dir, random_init=random_init, device=device,
        progress=progress, channel_order=model.card.get("channel_order", "RGB"),
        model=model if model.carries_backbones else None,
    )
    probs = score(x, model, runs=g)
    per_clip = group_results(g, y, probs, cut=cut)
    for row in per_clip:
        row["clip"] = items[row["group"]].describe()
    return {
        **binary_metrics(y, probs >= cut),
        "n_groups": int(np.unique(g).size),
        "cut": cut,
        "per_clip": per_clip,
        "warnings": warnings,
    }
