"""Training the head (the paper's recipe) and evaluating a model, from arrays or from labelled clips/spans.

`train_head` works on per-second features with a group id per second (the clip or span it came from); the split is
80/10/10 by group, never by second, because neighbouring seconds are near copies. Adam, cross-entropy, the epoch
with the best validation F1 is kept. Seeded: the same inputs give the same model.

`train_from_csv` / `evaluate_from_csv` embed the clips (`path,label`) or spans of long videos
(`path,start_s,end_s,label`) once, caching the embeddings per file and backbone set.
Fine-tuning the backbones (the paper trained all weights) is not implemented: only the head is trained.
"""

from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from detector.errors import DetectorError
from detector.head import SceneModel, make_card, score
from detector.metrics import binary_metrics, group_results

Progress = Callable[[int, int], None]
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)
RECIPES = ("paper", "fewshot")
# backbone sets whose models follow the paper exactly (its recipe, no smoothing, cut 0.5)
PAPER_SETS = ("paper", "published")


def default_recipe(backbone_set: str) -> str:
    """"paper" for the paper's own backbone sets, "fewshot" (detector.fewshot) for every other."""
    return "paper" if backbone_set in PAPER_SETS else "fewshot"


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
    from detector.constants import BACKBONE_DIMS

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


# --- clips and spans ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelledItem:
    """One row of a clips or spans CSV: the whole file (start_s/end_s None) or a span of it, and its label."""

    path: Path
    label: int
    start_s: float | None = None
    end_s: float | None = None
    line: int = 0
    group: str | None = None

    def describe(self) -> str:
        if self.start_s is None:
            return str(self.path)
        return f"{self.path} [{self.start_s:g}, {self.end_s:g}) s"


def read_items(csv_path: str | Path, *, spans: bool) -> list[LabelledItem]:
    """Rows of `path,label` (clips) or `path,start_s,end_s,label` (spans), each with an optional last column
    `group` (the clip's source: the seconds of one group never sit on both sides of a split); a header row is
    optional.

    Relative paths are relative to the CSV's folder. Raises DetectorError naming the line of a bad row.
    """
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise DetectorError(f"The CSV file {csv_path} does not exist.")
    width = 4 if spans else 2
    form = "path,start_s,end_s,label[,group]" if spans else "path,label[,group]"
    items: list[LabelledItem] = []
    with csv_path.open(newline="", encoding="utf-8-sig") as handle:
        for line, row in enumerate(csv.reader(handle), start=1):
            row = [cell.strip() for cell in row]
            if not row or not any(row) or row[0].startswith("#"):
                continue
            if line == 1 and len(row) >= width and row[width - 1].lower() == "label":
                continue
            where = f"{csv_path} line {line}"
            if len(row) not in (width, width + 1):
                raise DetectorError(f"{where}: expected {width} or {width + 1} columns ({form}), got {len(row)}.")
            group = row.pop() if len(row) == width + 1 else None
            if group == "":
                raise DetectorError(f"{where}: the group column is empty; name the clip's source or drop the column.")
            if row[-1] not in ("0", "1"):
                raise DetectorError(f"{where}: the label must be 1 (the scene) or 0 (not), got {row[-1]!r}.")
            path = Path(row[0]).expanduser()
            if not path.is_absolute():
                path = csv_path.parent / path
            if not path.is_file():
                raise DetectorError(f"{where}: the video {path} does not exist.")
            start_s = end_s = None
            if spans:
                try:
                    start_s, end_s = float(row[1]), float(row[2])
                except ValueError:
                    raise DetectorError(f"{where}: start_s and end_s must be numbers of seconds.") from None
                if not 0 <= start_s < end_s:
                    raise DetectorError(f"{where}: a span needs 0 <= start_s < end_s, got {start_s}, {end_s}.")
            items.append(
                LabelledItem(path=path, label=int(row[-1]), start_s=start_s, end_s=end_s, line=line, group=group)
            )
    if not items:
        raise DetectorError(f"{csv_path} has no rows ({form}).")
    return items


def default_cache_dir() -> Path:
    base = os.environ.get("KISSWEB_CACHE_DIR") or Path.home() / ".cache" / "kissweb"
    return Path(base) / "embeddings"


def cached_embeddings(
    path: Path,
    *,
    backbones: str,
    cache_dir: Path | None = None,
    random_init: bool = False,
    device: str | None = None,
    channel_order: str = "RGB",
    model: SceneModel | None = None,
    looks: Sequence[str] = (),
) -> dict[str, np.ndarray]:
    """image, audio, times_s (and look_NAME image embeddings of each look) of one video, embedded once per (file,
    size, mtime, backbone set, channel order, looks) and kept as .npz. model: a model that carries its own
    backbones (published) embeds with them (keyed by their digest).
    """
    from detector import __version__
    from detector.embed import embed_video

    own = model is not None and model.carries_backbones
    looks = tuple(looks)
    names = ("image", "audio", "times_s", *(f"look_{look}" for look in looks))
    stat = path.stat()
    key_text = (
        f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{backbones}|{random_init}|{channel_order}|{__version__}"
        + (f"|{model.backbone_digest}" if own else "")
    )
    if looks:
        key_text += "|looks=" + ",".join(looks)
    key = hashlib.sha256(key_text.encode()).hexdigest()[:32]
    cache_dir = cache_dir or default_cache_dir()
    cache_file = cache_dir / f"{key}-{backbones}.npz"
    if cache_file.is_file():
        try:
            with np.load(cache_file, allow_pickle=False) as data:
                return {name: data[name] for name in names}
        except (OSError, ValueError, KeyError):
            cache_file.unlink(missing_ok=True)  # a damaged cache entry is re-made
    if own:
        emb = embed_video(path, model=model, device=device, looks=looks)
    else:
        emb = embed_video(
            path, backbones=backbones, random_init=random_init, device=device, channel_order=channel_order,
            looks=looks,
        )
    arrays = {"image": emb.image, "audio": emb.audio, "times_s": emb.times_s,
              **{f"look_{look}": emb.looks[look] for look in looks}}
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = cache_file.with_name(cache_file.name + ".partial.npz")
    np.savez(partial, **arrays)
    partial.replace(cache_file)
    return arrays


@dataclass
class LabelledArrays:
    """Per-second training data: features (n, D), labels, item (the CSV row index), augmented (a transformed copy
    in another look) and look (its name, "" for the real seconds); runs() names each contiguous stretch."""

    features: np.ndarray
    labels: np.ndarray
    item: np.ndarray
    augmented: np.ndarray
    look: np.ndarray
    warnings: list[str]

    def runs(self) -> np.ndarray:
        """An id per (item, look): the seconds of one id are consecutive seconds of one clip in one look."""
        _, ids = np.unique(np.stack([self.item.astype(str), self.look.astype(str)], axis=1), axis=0,
                           return_inverse=True)
        return ids.reshape(-1)


def labelled_arrays(
    items: Sequence[LabelledItem],
    *,
    backbones: str,
    cache_dir: Path | None = None,
    random_init: bool = False,
    device: str | None = None,
    progress: Progress | None = None,
    channel_order: str = "RGB",
    looks: Sequence[str] = (),
    model: SceneModel | None = None,
) -> LabelledArrays:
    """Every whole 1-second window of every item, and a copy of it in each of `looks` (detector.looks); each
    distinct file is embedded once. model: see cached_embeddings."""
    looks = tuple(looks)
    per_file: dict[Path, dict[str, np.ndarray]] = {}
    feats, labels, index, looked, warnings = [], [], [], [], []
    for position, item in enumerate(items):
        if item.path not in per_file:
            per_file[item.path] = cached_embeddings(
                item.path, backbones=backbones, cache_dir=cache_dir, random_init=random_init, device=device,
                channel_order=channel_order, looks=looks, model=model,
            )
        arrays = per_file[item.path]
        times = arrays["times_s"]
        if item.start_s is None:
            mask = np.ones(times.size, dtype=bool)
        else:
            mask = (times >= item.start_s) & (times + 1.0 <= item.end_s)
        if not mask.any():
            warnings.append(f"{item.describe()} holds no whole 1-second window; skipped.")
        else:
            count = int(mask.sum())
            for look in ("", *looks):
                image = arrays["image" if not look else f"look_{look}"][mask]
                feats.append(np.concatenate([image, arrays["audio"][mask]], axis=1).astype(np.float32))
                labels.append(np.full(count, item.label, dtype=np.int64))
                index.append(np.full(count, position, dtype=np.int64))
                looked.append(np.full(count, look, dtype=object))
        if progress is not None:
            progress(position + 1, len(items))
    if not feats:
        raise DetectorError("None of the clips/spans holds a whole 1-second window; nothing to train or evaluate on.")
    look = np.concatenate(looked).astype(str)
    return LabelledArrays(
        features=np.concatenate(feats), labels=np.concatenate(labels), item=np.concatenate(index),
        augmented=look != "", look=look, warnings=warnings,
    )


def items_to_arrays(
    items: Sequence[LabelledItem],
    *,
    backbones: str,
    cache_dir: Path | None = None,
    random_init: bool = False,
    device: str | None = None,
    progress: Progress | None = None,
    channel_order: str = "RGB",
    model: SceneModel | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """features (n, D), labels, groups (the item's index) and warnings; each distinct file is embedded once.
    model: see cached_embeddings (a published model's own backbones)."""
    data = labelled_arrays(
        items, backbones=backbones, cache_dir=cache_dir, random_init=random_init, device=device, progress=progress,
        channel_order=channel_order, model=model,
    )
    return data.features, data.labels, data.item, data.warnings


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


def item_groups(items: Sequence[LabelledItem]) -> tuple[np.ndarray, list[str]]:
    """A group id per item and each id's name: the CSV's `group` column where given, else the item itself."""
    names: list[str] = []
    index: dict[str, int] = {}
    ids = []
    for position, item in enumerate(items):
        name = item.group if item.group is not None else f"row {item.line or position + 1}: {item.describe()}"
        if name not in index:
            index[name] = len(names)
            names.append(name)
        ids.append(index[name])
    return np.array(ids, dtype=np.int64), names


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
