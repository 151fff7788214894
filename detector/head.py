"""The paper's classifier head and its model files.

concat(image, audio) -> Linear(D, 2); the score of a window is the softmax probability of class 1 (the scene).
A model file is one `.safetensors` file: tensors `weight` (2, D) and `bias` (2,), with a JSON card in its metadata
under "card". `save_model` also writes a `.card.json` copy for people; loading needs only the `.safetensors` file.
Nothing here unpickles or imports torch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from detector.errors import ModelFileError

CARD_KEYS = (
    "scene_type", "backbone_set", "image_dim", "audio_dim", "channel_order",
    "created", "library_version", "metrics", "training",
)
CHANNEL_ORDERS = ("RGB", "BGR")


@dataclass
class SceneModel:
    """A trained head: weight (2, D) float32, bias (2,) float32 and its card (what it detects, on what features)."""

    weight: np.ndarray
    bias: np.ndarray
    card: dict[str, Any] = field(default_factory=dict)

    @property
    def input_dim(self) -> int:
        return int(self.weight.shape[1])


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
    from detector import __version__

    if channel_order not in CHANNEL_ORDERS:
        raise ValueError(f"channel_order must be one of {CHANNEL_ORDERS}, got {channel_order!r}")
    return {
        "scene_type": scene_type,
        "backbone_set": backbone_set,
        "image_dim": int(image_dim),
        "audio_dim": int(audio_dim),
        "channel_order": channel_order,
        "preprocessing": {
            "window_s": 1.0,
            "frame": "last frame shown in each 1 s window",
            "channel_order": channel_order,
            "image": "shorter side 256, centre crop 224, ImageNet mean/std",
            "audio": "0.96 s ending at the window's end, mono 16 kHz, 96x64 log-mel (VGGish front end)",
            "features": "concat(image, audio)",
        },
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "library_version": __version__,
        "metrics": metrics or {},
        "training": training or {},
        **extra,
    }


def save_model(model: SceneModel, path: str | Path) -> Path:
    """Write `path` (`.safetensors` is added when missing) with the card inside, plus a `.card.json` copy."""
    from safetensors.numpy import save_file

    path = Path(path)
    if path.suffix != ".safetensors":
        path = path.with_name(path.name + ".safetensors")
    weight, bias = _checked_tensors(np.asarray(model.weight), np.asarray(model.bias), path)
    _check_card(model.card, weight.shape[1], path)
    card_json = json.dumps(model.card, sort_keys=True, default=json_default)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    save_file({"weight": weight, "bias": bias}, str(partial), metadata={"card": card_json, "format": "kissweb-head"})
    partial.replace(path)
    card_path(path).write_text(json.dumps(json.loads(card_json), indent=2, sort_keys=True) + "\n")
    return path


def card_path(model_path: str | Path) -> Path:
    """Where the human-readable card copy of a model file lives: FILE.card.json next to FILE.safetensors."""
    model_path = Path(model_path)
    return model_path.with_name(model_path.stem + ".card.json")


def load_model(path: str | Path) -> SceneModel:
    """Read a model file written by `save_model`. Raises ModelFileError saying what is wrong with which file."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(
            f"Model file {path} does not exist. Train one with `python -m detector train --clips CSV -o FILE` "
            "or convert the published model with `python -m detector import-reference-model model.pkl -o FILE`."
        )
    with path.open("rb") as handle:
        head = handle.read(8)
    if head[:2] == b"PK" or head[:1] == b"\x80":
        raise ModelFileError(
            f"{path} is a pickle/PyTorch file, which is never loaded directly (unpickling can run code). "
            f"Convert it with `python -m detector import-reference-model {path} -o model.safetensors`."
        )
    try:
        with safe_open(str(path), framework="np") as handle:
            metadata = handle.metadata() or {}
            names = set(handle.keys())
            if not {"weight", "bias"} <= names:
                raise ModelFileError(f"{path} has tensors {sorted(names)}; a model file needs 'weight' and 'bias'.")
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
    return SceneModel(weight=weight, bias=bias, card=card)


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


def json_default(value: Any) -> Any:
    """json.dumps(default=...) for NumPy values and paths in cards and CLI output."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
