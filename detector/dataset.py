"""Labelled clips and spans, and their per-second embeddings: what training and evaluation read.

A clips CSV has rows `path,label`, a spans CSV `path,start_s,end_s,label` (spans of long videos), each with an
optional `group` column. Every distinct file is embedded once per backbone set and kept as .npz in the embedding
cache (KISSWEB_CACHE_DIR, default ~/.cache/kissweb/embeddings), keyed by the file's size and mtime.
"""

from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from detector.errors import DetectorError
from detector.version import __version__

if TYPE_CHECKING:
    from detector.head import SceneModel

Progress = Callable[[int, int], None]


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
    size, mtime, backbone set and its digest, channel order, looks) and kept as .npz. model: a model that carries
    its own backbones (published) embeds with them (keyed by their digest).
    """
    from detector.digest import builtin_digest
    from detector.embed import embed_video

    own = model is not None and model.carries_backbones
    looks = tuple(looks)
    names = ("image", "audio", "times_s", *(f"look_{look}" for look in looks))
    stat = path.stat()
    digest = model.backbone_digest if own else builtin_digest(backbones, random_init=random_init)
    key_text = (
        f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{backbones}|{random_init}|{channel_order}|{__version__}"
        f"|{digest}"
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

