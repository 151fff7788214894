"""Training the head: the paper's recipe, or the few-shot one (detector.fewshot), from arrays or labelled clips/spans.

`train_head` works on per-second features with a group id per second (the clip or span it came from); the split is
80/10/10 by group, never by second, because neighbouring seconds are near copies. Adam, cross-entropy, the epoch
with the best validation F1 is kept. Seeded: the same inputs give the same model.

`train_from_csv` / `train_from_items` embed the clips (`path,label`) or spans of long videos
(`path,start_s,end_s,label`) once through detector.dataset's embedding cache; detector.evaluate measures a model on
such a CSV. Fine-tuning the backbones (the paper trained all weights) is not implemented: only the head is trained.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from detector.backbones import BACKBONE_DIMS, RECIPES, SETS
from detector.dataset import LabelledItem, Progress, item_groups, labelled_arrays, read_items
from detector.errors import DetectorError
from detector.head import SceneModel, make_card, score
from detector.metrics import binary_metrics, group_results

SPLIT_FRACTIONS = (0.8, 0.1, 0.1)


def default_recipe(backbone_set: str) -> str:
    """The set's default recipe (detector.backbones: "paper" for the paper's own sets, whose models follow the paper
    exactly); "fewshot" (detector.fewshot) for features of no registered set."""
    info = SETS.get(backbone_set)
    return info.default_recipe if info is not None else "fewshot"


# --- the head ------------------------------------------------------------------------------------------------


def split_groups(
    labels: np.ndarray, groups: np.ndarray, *, seed: int = 0
) -> tuple[dict[str, np.ndarray], list[str]]:
    """Group ids for "train", "validation", "test" (about 80/10/10 of each class's groups) and warnings.

    Stratified by the group's label (majority of its seconds). Where a class has >= 3 groups, validation and test
    each get at least one of them; with 2, validation gets one and test none; with 1, it only trains.
    """
    labels = np.asarray(labels).reshape(-1)
    groups = np.asarray(groups).reshape(-1)
    unique = np.unique(groups)
    group_label = {g.item(): int(labels[groups == g].mean() >= 0.5) for g in unique}
    rng = np.random.default_rng(seed)
    parts: dict[str, list] = {"train": [], "validation": [], "test": []}
    warnings: list[str] = []
    for cls, name in ((1, "scene"), (0, "other")):
        members = sorted(g for g, lab in group_label.items() if lab == cls)
        members = [members[i] for i in rng.permutation(len(members))]
        k = len(members)
        n_held = max(1, round(SPLIT_FRACTIONS[1] * k))
        n_val = n_held if k >= 2 else 0
        n_test = n_held if k >= 3 else 0
        while k - n_val - n_test < 1 and n_val > 1:  # always keep at least one to train on
            n_val -= 1
            n_test -= 1
        parts["validation"] += members[:n_val]
        parts["test"] += members[n_val : n_val + n_test]
        parts["train"] += members[n_val + n_test :]
        if k < 3:
            warnings.append(
                f"only {k} {name} clip(s)/span(s): at least 3 are needed so that validation and test each get one "
                f"({'no test' if k == 2 else 'no validation or test'} group of this class)."
            )
    return {key: np.array(sorted(value)) for key, value in parts.items()}, warnings


def train_head(
    features: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
    *,
    backbone_set: str,
    scene_type: str,
    epochs: int = 10,
    lr: float = 1e-3,
    batch_size: int = 64,
    seed: int = 0,
    progress: Progress | None = None,
    image_dim: int | None = None,
    channel_order: str = "RGB",
    training_summary: dict[str, Any] | None = None,
    recipe: str | None = None,
    runs: np.ndarray | None = None,
    augmented: np.ndarray | None = None,
    audio: bool = False,
    l2: float | Sequence[float] | None = None,
    smooth_s: int | None = None,
    cut_floor: float | None = None,
) -> tuple[SceneModel, dict[str, Any]]:
    """Train Linear(D, 2) on per-second features; returns the model (card filled in) and its metrics.

    recipe None is `default_recipe(backbone_set)`. "paper": the paper's recipe below (epochs, lr, batch_size).
    "fewshot": `detector.fewshot.train_fewshot` (audio, l2, smooth_s, cut_floor, runs, augmented apply to it only; its
    metrics' "validation" is out-of-fold over groups and "test" is None).

    metrics = {"validation": {...}, "test": {...}, "train": {...}} each with accuracy, precision, recall, f1,
    confusion, n_seconds, n_groups (None where that part is empty), plus "best_epoch", "per_group" (validation and
    test clips/spans) and "warnings". progress(epoch, epochs) is called after every epoch; an exception it raises
    stops training. Raises DetectorError when both labels are not present.
    """
    import torch

    x = np.ascontiguousarray(features, dtype=np.float32)
    y = np.asarray(labels).astype(np.int64).reshape(-1)
    g = np.asarray(groups).reshape(-1)
    if x.ndim != 2 or x.shape[0] != y.size or y.size != g.size:
        raise ValueError(f"features (n, D), labels (n,) and groups (n,) must agree: {x.shape}, {y.shape}, {g.shape}")
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("labels must be 0 or 1")
    if y.size == 0 or y.min() == y.max():
        raise DetectorError(
            "Training needs seconds of both labels (1 = the scene, 0 = not); "
            f"got {int((y == 1).sum())} scene and {int((y == 0).sum())} other seconds."
        )
    if not np.all(np.isfinite(x)):
        raise DetectorError("The training features contain NaN or infinity; re-embed the videos.")
    image_dim, audio_dim = _feature_split(x.shape[1], backbone_set, image_dim)
    recipe = recipe or default_recipe(backbone_set)
    if recipe not in RECIPES:
        raise DetectorError(f"Unknown training recipe {recipe!r}; choose one of {', '.join(RECIPES)}.")
    if recipe == "fewshot":
        return _train_fewshot(
            x, y, g, backbone_set=backbone_set, scene_type=scene_type, image_dim=image_dim, audio_dim=audio_dim,
            channel_order=channel_order, seed=seed, progress=progress, training_summary=training_summary, runs=runs,
            augmented=augmented, audio=audio, l2=l2, smooth_s=smooth_s, cut_floor=cut_floor,
        )
    split, warnings = split_groups(y, g, seed=seed)
    masks = {name: np.isin(g, ids) for name, ids in split.items()}

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a 2-column head gains nothing from threads, and loses a lot on a busy machine
    try:
        return _train(
            torch, x, y, g, masks, split, warnings, backbone_set=backbone_set, scene_type=scene_type,
            image_dim=image_dim, audio_dim=audio_dim, channel_order=channel_order, epochs=epochs, lr=lr,
            batch_size=batch_size, seed=seed, progress=progress, training_summary=training_summary,
        )
    finally:
        torch.set_num_threads(threads)


def _train_fewshot(
    x: np.ndarray, y: np.ndarray, g: np.ndarray, *, backbone_set: str, scene_type: str, image_dim: int,
    audio_dim: int, channel_order: str, seed: int, progress: Progress | None,
    training_summary: dict[str, Any] | None, runs: np.ndarray | None, augmented: np.ndarray | None, audio: bool,
    l2: float | Sequence[float] | None, smooth_s: int | None, cut_floor: float | None,
) -> tuple[SceneModel, dict[str, Any]]:
    import torch

    from detector.fewshot import DEFAULT_SMOOTH_S, train_fewshot

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        weight, bias, scoring, recipe, metrics = train_fewshot(
            x, y, g, image_dim=image_dim, runs=runs, augmented=augmented, audio=audio,
            l2=l2, smooth_s=DEFAULT_SMOOTH_S if smooth_s is None else smooth_s,
            seed=seed, progress=progress, **({} if cut_floor is None else {"cut_floor": cut_floor}),
        )
    finally:
        torch.set_num_threads(threads)
    real = np.ones(y.size, bool) if augmented is None else ~np.asarray(augmented, bool)
    summary = {
        "n_seconds": int(real.sum()), "n_scene_seconds": int(y[real].sum()), "n_groups": int(np.unique(g).size),
        "seed": seed, "recipe": recipe["name"], "trained": "head only (backbones frozen)",
        **(training_summary or {}),
    }
    model = SceneModel(weight=weight, bias=bias, card={})
    model.card = make_card(
        scene_type=scene_type, backbone_set=backbone_set, image_dim=image_dim, audio_dim=audio_dim,
        channel_order=channel_order, training=summary, metrics=metrics, recipe=recipe, scoring=scoring,
    )
    return model, metrics


def _train(
    torch: Any, x: np.ndarray, y: np.ndarray, g: np.ndarray, masks: dict[str, np.ndarray],
    split: dict[str, np.ndarray], warnings: list[str], *, backbone_set: str, scene_type: str, image_dim: int,
    audio_dim: int, channel_order: str, epochs: int, lr: float, batch_size: int, seed: int,
    progress: Progress | None, training_summary: dict[str, Any] | None,
) -> tuple[SceneModel, dict[str, Any]]:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        head = torch.nn.Linear(x.shape[1], 2)
        optimiser = torch.optim.Adam(head.parameters(), lr=lr)
        loss_fn = torch.nn.CrossEntropyLoss()
        x_train = torch.from_numpy(x[masks["train"]])
        y_train = torch.from_numpy(y[masks["train"]])
        best: tuple[tuple[float, float], int, np.ndarray, np.ndarray] | None = None
        for epoch in range(1, epochs + 1):
            head.train()
            order = torch.randperm(len(y_train), generator=generator)
            for start in range(0, len(order), batch_size):
                batch = order[start : start + batch_size]
                optimiser.zero_grad()
                loss = loss_fn(head(x_train[batch]), y_train[batch])
                loss.backward()
                optimiser.step()
            weight = head.weight.detach().numpy().copy()
            bias = head.bias.detach().numpy().copy()
            candidate = SceneModel(weight=weight, bias=bias, card={})
            if masks["validation"].any():
                held = binary_metrics(y[masks["validation"]], score(x[masks["validation"]], candidate) >= 0.5)
                # F1 first; accuracy breaks ties (it still ranks epochs when validation holds one class only)
                quality = (held["f1"], held["accuracy"])
            else:
                quality = (0.0, 0.0)  # nothing to choose with: the last epoch wins
            if best is None or quality >= best[0]:  # on a tie the later, longer-trained epoch is kept
                best = (quality, epoch, weight, bias)
            if progress is not None:
                progress(epoch, epochs)
    if best is None:
        raise ValueError("epochs must be >= 1")
    if not masks["validation"].any():
        warnings.append("no validation clips/spans: kept the last epoch instead of the best validation F1.")
    _, best_epoch, weight, bias = best
    model = SceneModel(weight=weight, bias=bias, card={})
    probs = score(x, model)
    metrics: dict[str, Any] = {}
    for name, mask in masks.items():
        if mask.any():
            metrics[name] = {**binary_metrics(y[mask], probs[mask] >= 0.5), "n_groups": int(split[name].size)}
        else:
            metrics[name] = None
    held_out = masks["validation"] | masks["test"]
    per_group = group_results(g[held_out], y[held_out], probs[held_out])
    split_of = {gid.item() if isinstance(gid, np.generic) else gid: name for name, ids in split.items() for gid in ids}
    for row in per_group:
        row["split"] = split_of[row["group"]]
    metrics.update(best_epoch=best_epoch, per_group=per_group, warnings=warnings)
    summary = {
        "n_seconds": int(y.size),
        "n_scene_seconds": int(y.sum()),
        "n_groups": int(np.unique(g).size),
        "split_groups": {name: int(ids.size) for name, ids in split.items()},
        "epochs": epochs, "lr": lr, "batch_size": batch_size, "seed": seed, "best_epoch": best_epoch,
        "optimizer": "Adam", "loss": "cross-entropy", "trained": "head only (backbones frozen)",
        **(training_summary or {}),
    }
    model.card = make_card(
        scene_type=scene_type, backbone_set=backbone_set, image_dim=image_dim, audio_dim=audio_dim,
        channel_order=channel_order, training=summary, metrics=metrics,
        recipe={"name": "paper", "optimizer": "Adam", "loss": "cross-entropy", "cut": 0.5, "smooth_s": 1},
    )
    return model, metrics


def _feature_split(width: int, backbone_set: str, image_dim: int | None) -> tuple[int, int]:
    if image_dim is None:
        dims = BACKBONE_DIMS.get(backbone_set)
        if dims is None or sum(dims) != width:
            raise ValueError(
                f"features have {width} columns, which is not backbone set {backbone_set!r} "
                f"({dims}); pass image_dim to say where the image part ends."
            )
        return dims
    if not 0 < image_dim <= width:
        raise ValueError(f"image_dim {image_dim} does not fit {width} feature columns")
    return image_dim, width - image_dim



def train_from_csv(
    csv_path: str | Path,
    *,
    spans: bool = False,
    **options: Any,
) -> tuple[SceneModel, dict[str, Any]]:
    """Embed (cached) the CSV's clips or spans and train the head; per-clip results name the files.

    `options` are those of `train_from_items`.
    """
    items = read_items(csv_path, spans=spans)
    summary = {"source": str(csv_path), "kind": "spans" if spans else "clips"}
    return train_from_items(items, training_summary=summary, **options)


def train_from_items(
    items: Sequence[LabelledItem],
    *,
    backbones: str = "auto",
    scene_type: str = "kissing",
    epochs: int = 10,
    lr: float = 1e-3,
    batch_size: int = 64,
    seed: int = 0,
    cache_dir: Path | None = None,
    random_init: bool = False,
    device: str | None = None,
    embed_progress: Progress | None = None,
    train_progress: Progress | None = None,
    training_summary: dict[str, Any] | None = None,
    recipe: str | None = None,
    audio: bool = False,
    l2: float | Sequence[float] | None = None,
    smooth_s: int | None = None,
    cut_floor: float | None = None,
    looks: Sequence[str] | None = None,
) -> tuple[SceneModel, dict[str, Any]]:
    """Embed (cached) labelled clips/spans and train the head on them; splits never divide a `group`.

    recipe/audio/l2/smooth_s/cut_floor: see `train_head`. looks: also train on copies of every second in these looks
    (detector.looks; None = all of them for the few-shot recipe, none for the paper's)."""
    from detector.embed import resolve_backbone_set
    from detector.looks import DEFAULT_LOOKS, check_looks

    if not items:
        raise DetectorError("No clips or spans to train on.")
    backbone_set = resolve_backbone_set(backbones)
    recipe = recipe or default_recipe(backbone_set)
    if looks is None:
        looks = DEFAULT_LOOKS if recipe == "fewshot" else ()
    looks = check_looks(looks)
    if looks and recipe != "fewshot":
        raise DetectorError("Training on other looks belongs to the few-shot recipe; the paper's recipe uses none.")
    data = labelled_arrays(
        items, backbones=backbone_set, cache_dir=cache_dir, random_init=random_init, device=device,
        progress=embed_progress, looks=looks,
    )
    group_of_item, group_names = item_groups(items)
    g = group_of_item[data.item]
    extra = {"runs": data.runs(), "augmented": data.augmented} if recipe == "fewshot" else {}
    model, metrics = train_head(
        data.features, data.labels, g, backbone_set=backbone_set, scene_type=scene_type, epochs=epochs, lr=lr,
        batch_size=batch_size, seed=seed, progress=train_progress, recipe=recipe, audio=audio, l2=l2,
        smooth_s=smooth_s, cut_floor=cut_floor, **extra,
        training_summary={
            **(training_summary or {}), "n_items": len(items), "n_sources": len(group_names),
            "random_init_backbones": random_init,
        },
    )
    if recipe == "fewshot":
        model.card["recipe"]["looks"] = list(looks)
    for row in metrics["per_group"]:
        members = [item.describe() for item, gid in zip(items, group_of_item) if gid == row["group"]]
        row["clip"] = members[0] if len(members) == 1 else f"{group_names[row['group']]} ({len(members)} clips)"
    metrics["warnings"] = data.warnings + metrics["warnings"]
    model.card["metrics"] = metrics
    return model, metrics

