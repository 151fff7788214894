"""The paper's classifier head and its model files.

concat(image, audio) -> Linear(D, 2); the score of a window is the softmax probability of class 1 (the scene).
A model file is one `.safetensors` file: tensors `weight` (2, D) and `bias` (2,), with a JSON card in its metadata
under "card". `save_model` also writes a `.card.json` copy for people; loading needs only the `.safetensors` file.
A model whose backbone set is a model-file set (`published`) also carries its backbones' tensors, named
`backbone.<name>`, and its card's `backbones.sha256` is their `detector.digest.tensors_digest`: the file is
self-contained, and `detector.embed_video(..., model=...)` runs the head on its own backbones.
Nothing here unpickles or imports torch.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from detector.backbones import CHANNEL_ORDERS, MODEL_FILE_SETS, SETS
from detector.digest import builtin_digest, is_digest, tensors_digest
from detector.errors import ModelFileError

CARD_KEYS = (
    "scene_type", "backbone_set", "image_dim", "audio_dim", "channel_order",
    "created", "library_version", "metrics", "training",
)
BACKBONE_PREFIX = "backbone."
_SAFETENSORS_MAX_HEADER = 100_000_000  # the safetensors library refuses larger headers too


@dataclass
class SceneModel:
    """A trained head: weight (2, D) float32, bias (2,) float32 and its card (what it detects, on what features).

    source: the file `load_model` read it from; a model-file backbone set's tensors are read from there when needed.
    """

    weight: np.ndarray
    bias: np.ndarray
    card: dict[str, Any] = field(default_factory=dict)
    source: Path | None = None

    @property
    def input_dim(self) -> int:
        return int(self.weight.shape[1])

    @property
    def backbone_set(self) -> str:
        """The backbone set whose embeddings this head scores: paper, offline or published."""
        return str(self.card.get("backbone_set"))

    @property
    def channel_order(self) -> str:
        """The order of the frame's channels the backbones were trained on: RGB, or BGR for the published model."""
        return str(self.card.get("channel_order", "RGB"))

    @property
    def random_init_backbones(self) -> bool:
        """Whether the model was trained on randomly initialised built-in backbones (test models)."""
        return bool((self.card.get("training") or {}).get("random_init_backbones", False))

    @property
    def backbone_digest(self) -> str:
        """SHA-256 (hex) naming the exact backbone weights this head's features come from (see detector.digest).

        Stored embeddings can be scored by this model when their (backbone set, digest) equal the model's.
        """
        if self.backbone_set in MODEL_FILE_SETS:
            return str((self.card.get("backbones") or {}).get("sha256"))
        return builtin_digest(self.backbone_set, random_init=self.random_init_backbones)

    @property
    def carries_backbones(self) -> bool:
        """Whether the backbones are this model file's own tensors (load them with `load_backbone_tensors`)."""
        return self.backbone_set in MODEL_FILE_SETS


def make_card(
    *,
    scene_type: str,
    backbone_set: str,
    image_dim: int,
    audio_dim: int,
    channel_order: str = "RGB",
    training: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A model card with every required key; `extra` keys are kept as given (JSON-serialisable values)."""
    from detector.version import __version__

    if channel_order not in CHANNEL_ORDERS:
        raise ValueError(f"channel_order must be one of {CHANNEL_ORDERS}, got {channel_order!r}")
    return {
        "scene_type": scene_type,
        "backbone_set": backbone_set,
        "image_dim": int(image_dim),
        "audio_dim": int(audio_dim),
        "channel_order": channel_order,
        "preprocessing": _preprocessing(backbone_set, channel_order),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "library_version": __version__,
        "metrics": metrics or {},
        "training": training or {},
        **extra,
    }


def _preprocessing(backbone_set: str, channel_order: str) -> dict[str, Any]:
    """The set's preprocessing card (detector.backbones); a set unknown there (test features) gets the common part."""
    if backbone_set in SETS:
        return SETS[backbone_set].preprocessing_card(channel_order)
    return {"window_s": 1.0, "frame": "last frame shown in each 1 s window", "channel_order": channel_order,
            "features": "concat(image, audio)"}


def save_model(model: SceneModel, path: str | Path, *, backbone_tensors: dict[str, np.ndarray] | None = None) -> Path:
    """Write `path` (`.safetensors` is added when missing) with the card inside, plus a `.card.json` copy.

    A model-file backbone set (published) needs its backbones' tensors: `backbone_tensors`, or, when None, those
    of the file the model was loaded from. Their digest must equal the card's `backbones.sha256`.
    """
    from safetensors.numpy import save_file

    path = Path(path)
    if path.suffix != ".safetensors":
        path = path.with_name(path.name + ".safetensors")
    weight, bias = _checked_tensors(np.asarray(model.weight), np.asarray(model.bias), path)
    _check_card(model.card, weight.shape[1], path)
    tensors = {"weight": weight, "bias": bias}
    if model.carries_backbones:
        if backbone_tensors is None:
            if model.source is None:
                raise ModelFileError(f"{path}: a {model.backbone_set!r} model needs its backbone tensors to be saved.")
            backbone_tensors = load_backbone_tensors(model)
        actual = tensors_digest(backbone_tensors)
        if actual != model.backbone_digest:
            raise ModelFileError(
                f"{path}: the backbone tensors have digest {actual}, but the card says {model.backbone_digest}."
            )
        tensors.update({BACKBONE_PREFIX + name: np.ascontiguousarray(a) for name, a in backbone_tensors.items()})
    elif backbone_tensors:
        raise ModelFileError(f"{path}: a {model.backbone_set!r} model does not carry backbone tensors.")
    card_json = json.dumps(model.card, sort_keys=True, default=json_default)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    try:
        save_file(tensors, str(partial), metadata={"card": card_json, "format": "kissweb-head"})
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    card_path(path).write_text(json.dumps(json.loads(card_json), indent=2, sort_keys=True) + "\n")
    return path


def card_path(model_path: str | Path) -> Path:
    """Where the human-readable card copy of a model file lives: FILE.card.json next to FILE.safetensors."""
    model_path = Path(model_path)
    return model_path.with_name(model_path.stem + ".card.json")


def looks_like_safetensors(path: str | Path) -> bool:
    """Whether the file starts as safetensors does: a little-endian u64 header length that fits the file, then `{`.

    (A header length such as 0x0E80 makes the first byte 0x80, the pickle protocol marker, so the first bytes alone
    cannot tell a safetensors file from a pickle.)
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(9)
    except OSError:
        return False
    if len(head) < 9:
        return False
    (length,) = struct.unpack("<Q", head[:8])
    return 2 <= length <= min(size - 8, _SAFETENSORS_MAX_HEADER) and head[8:9] == b"{"


def _looks_like_pickle(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(2)
    return head == b"PK" or head[:1] == b"\x80"


def load_model(path: str | Path, *, verify_backbones: bool = False) -> SceneModel:
    """Read a model file written by `save_model`. Raises ModelFileError saying what is wrong with which file.

    Only the head and the card are read; a published model's backbone tensors stay in the file until
    `load_backbone_tensors` (or embedding) reads them. verify_backbones=True reads them now and checks their digest
    against the card (about a second for the published model's 330 MB), e.g. before accepting an upload.
    """
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(
            f"Model file {path} does not exist. Train one with `python -m detector train --clips CSV -o FILE`, "
            "convert the published model with `python -m detector import-reference-model model.pkl -o FILE`, or "
            "get it with `python -m detector fetch-published-model`."
        )
    if not looks_like_safetensors(path):
        if _looks_like_pickle(path):
            raise ModelFileError(
                f"{path} is a pickle/PyTorch file, which is never loaded directly (unpickling can run code). "
                f"Convert it with `python -m detector import-reference-model {path} -o model.safetensors`."
            )
        raise ModelFileError(
            f"{path} is not a readable safetensors model file (it does not start with a header length and a JSON "
            "header)."
        )
    try:
        with safe_open(str(path), framework="np") as handle:
            metadata = handle.metadata() or {}
            names = set(handle.keys())
            if not {"weight", "bias"} <= names:
                raise ModelFileError(
                    f"{path} has tensors {sorted(names)[:8]}; a model file needs 'weight' and 'bias'."
                )
            weight = handle.get_tensor("weight")
            bias = handle.get_tensor("bias")
    except ModelFileError:
        raise
    except Exception as exc:  # safetensors raises its own error types for a damaged header or data
        raise ModelFileError(f"{path} is not a readable safetensors model file ({exc}).") from exc
    if "card" not in metadata:
        raise ModelFileError(f"{path} has no model card in its metadata; it was not written by `save_model`.")
    try:
        card = json.loads(metadata["card"])
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"The model card inside {path} is not valid JSON ({exc}).") from exc
    weight, bias = _checked_tensors(weight, bias, path)
    _check_card(card, weight.shape[1], path)
    model = SceneModel(weight=weight, bias=bias, card=card, source=path)
    if model.carries_backbones:
        if not any(name.startswith(BACKBONE_PREFIX) for name in names):
            raise ModelFileError(
                f"{path}: its card names the {model.backbone_set!r} backbones, which travel inside the model file, "
                "but the file holds no backbone tensors; import the published model.pkl again."
            )
        if verify_backbones:
            load_backbone_tensors(model)
    return model


def load_backbone_tensors(model: SceneModel) -> dict[str, np.ndarray]:
    """The backbone tensors inside a published model's file (names without the `backbone.` prefix), checked
    against the card's SHA-256 digest. Raises ModelFileError when they are missing or differ."""
    from safetensors import safe_open

    path = model.source
    if not model.carries_backbones:
        raise ModelFileError(f"A {model.backbone_set!r} model does not carry backbone tensors.")
    if path is None or not Path(path).is_file():
        raise ModelFileError(
            f"The {model.backbone_set!r} backbones are read from the model's file, and {path} is not there."
        )
    try:
        with safe_open(str(path), framework="np") as handle:
            tensors = {
                name[len(BACKBONE_PREFIX):]: handle.get_tensor(name)
                for name in handle.keys() if name.startswith(BACKBONE_PREFIX)
            }
    except Exception as exc:
        raise ModelFileError(f"{path}: the backbone tensors cannot be read ({exc}).") from exc
    actual = tensors_digest(tensors)
    if actual != model.backbone_digest:
        raise ModelFileError(
            f"{path}: the backbone tensors have SHA-256 digest {actual}, not {model.backbone_digest} as its card "
            "says; the file is damaged. Import or download the published model again."
        )
    return tensors


def score(features: np.ndarray, model: SceneModel, *, runs: np.ndarray | None = None) -> np.ndarray:
    """P(scene) for each row of `features` (n, D): softmax probability of class 1, float32 (n,).

    Rows are consecutive seconds of one movie in time order, or of several stretches named by `runs` (n,) ids.
    Where the card's "scoring" asks for it (the few-shot recipe), each second's logit is the mean of the logits
    of the `smooth_s` seconds centred on it within its run (fewer at a run's ends); a card without "scoring"
    (the paper's recipe, the published model) scores each second on its own, exactly as the paper.
    """
    features = np.asarray(features)
    if features.ndim != 2 or features.shape[1] != model.input_dim:
        card = model.card
        raise ModelFileError(
            f"The model expects {model.input_dim} features per second (backbone set {card.get('backbone_set')!r}: "
            f"{card.get('image_dim')} image + {card.get('audio_dim')} audio) but got an array of shape "
            f"{features.shape}; embed the video with the model's backbone set."
        )
    # float32 matrix-vector product (stored embeddings are float16; float64 would copy 8 bytes per value),
    # the logistic in float64.
    direction = (model.weight[1].astype(np.float64) - model.weight[0]).astype(np.float32)
    margin = (features.astype(np.float32, copy=False) @ direction).astype(np.float64)
    margin += float(model.bias[1]) - float(model.bias[0])
    smooth_s = int((model.card.get("scoring") or {}).get("smooth_s", 1))
    if smooth_s > 1:
        margin = smooth_runs(margin, smooth_s, runs)
    # softmax over two classes = logistic of the logit difference; written to never overflow.
    e = np.exp(-np.abs(margin))
    probs = np.where(margin >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return probs.astype(np.float32)


def smooth_runs(values: np.ndarray, width: int, runs: np.ndarray | None = None) -> np.ndarray:
    """Centred moving mean of `width` (odd) values within each run of equal consecutive `runs` ids."""
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if runs is None:
        bounds = [(0, values.size)]
    else:
        runs = np.asarray(runs).reshape(-1)
        if runs.size != values.size:
            raise ValueError(f"runs has {runs.size} ids for {values.size} seconds")
        change = np.nonzero(runs[1:] != runs[:-1])[0] + 1
        edges = np.r_[0, change, values.size]
        bounds = list(zip(edges[:-1].tolist(), edges[1:].tolist()))
    half = width // 2
    out = np.empty_like(values)
    for start, end in bounds:
        part = values[start:end]
        sums = np.r_[0.0, np.cumsum(part)]
        index = np.arange(part.size)
        low = np.maximum(index - half, 0)
        high = np.minimum(index + half + 1, part.size)
        out[start:end] = (sums[high] - sums[low]) / (high - low)
    return out


def _checked_tensors(weight: np.ndarray, bias: np.ndarray, path: Path) -> tuple[np.ndarray, np.ndarray]:
    if weight.ndim != 2 or weight.shape[0] != 2 or bias.shape != (2,):
        raise ModelFileError(
            f"{path}: weight must be (2, D) and bias (2,), got {tuple(weight.shape)} and {tuple(bias.shape)}."
        )
    weight = np.ascontiguousarray(weight, dtype=np.float32)
    bias = np.ascontiguousarray(bias, dtype=np.float32)
    if not (np.all(np.isfinite(weight)) and np.all(np.isfinite(bias))):
        raise ModelFileError(f"{path}: the model's weights contain NaN or infinity.")
    return weight, bias


def _check_card(card: Any, input_dim: int, path: Path) -> None:
    if not isinstance(card, dict):
        raise ModelFileError(f"{path}: the model card must be a JSON object.")
    missing = [key for key in CARD_KEYS if key not in card]
    if missing:
        raise ModelFileError(f"{path}: the model card lacks {', '.join(missing)}.")
    if card["channel_order"] not in CHANNEL_ORDERS:
        raise ModelFileError(f"{path}: channel_order must be RGB or BGR, got {card['channel_order']!r}.")
    try:
        dims = int(card["image_dim"]) + int(card["audio_dim"])
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: image_dim and audio_dim in the card must be whole numbers.") from exc
    if dims != input_dim:
        raise ModelFileError(
            f"{path}: the card says {card['image_dim']} image + {card['audio_dim']} audio features but the weight "
            f"takes {input_dim}."
        )
    if card["backbone_set"] in MODEL_FILE_SETS and not is_digest((card.get("backbones") or {}).get("sha256")):
        raise ModelFileError(
            f"{path}: a {card['backbone_set']!r} model's card needs backbones.sha256, the digest of its backbone "
            "tensors."
        )


def json_default(value: Any) -> Any:
    """json.dumps(default=...) for NumPy values and paths in cards and CLI output."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
