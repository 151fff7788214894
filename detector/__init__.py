"""Kissweb detector: finds scenes (kissing, ...) in movies with the per-second audio+visual classifier of Ziai (2019).

The public face. Importing `detector` does not import torch: every name loads its module on first use.

    from detector import detect, load_model
    result = detect("movie.mp4", model=load_model("kissing.safetensors"))
    for segment in result.segments: print(segment.start_s, segment.end_s, segment.confidence)

Pieces: `embed_video` (one streaming pass -> per-second image+audio embeddings), `score` (the linear head ->
P(scene) per second), `aggregate_probabilities` (labels p >= cut, then the paper's Algorithm 1,
`detector.aggregate.aggregate`, -> non-overlapping `Segment`s), `train_head`,
`load_model`/`save_model` (safetensors + JSON card), `probe`/`extract_frame` (media facts and stills),
`cross_validate` (k-fold over movies of the training recipe: the quality a user can expect).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from detector.version import __version__

_EXPORTS: dict[str, str] = {
    "DetectorError": "detector.errors",
    "DecodeError": "detector.errors",
    "MissingWeightsError": "detector.errors",
    "ModelFileError": "detector.errors",
    "DownloadError": "detector.errors",
    "fetch_published_model": "detector.fetch",
    "MediaInfo": "detector.decode",
    "probe": "detector.decode",
    "extract_frame": "detector.decode",
    "Embeddings": "detector.embed",
    "embed_video": "detector.embed",
    "resolve_backbone_set": "detector.embed",
    "BACKBONE_DIMS": "detector.backbones",
    "fetch_weights": "detector.weights",
    "SceneModel": "detector.head",
    "load_model": "detector.head",
    "load_backbone_tensors": "detector.head",
    "builtin_digest": "detector.digest",
    "tensors_digest": "detector.digest",
    "save_model": "detector.head",
    "score": "detector.head",
    "Segment": "detector.aggregate",
    "aggregate_probabilities": "detector.aggregate",
    "train_head": "detector.train",
    "cross_validate": "detector.quality",
    "CrossValidation": "detector.quality",
    "detect": "detector.api",
    "Detection": "detector.api",
}

__all__ = [*_EXPORTS, "__version__"]

if TYPE_CHECKING:
    from detector.aggregate import Segment, aggregate_probabilities
    from detector.api import Detection, detect
    from detector.decode import MediaInfo, extract_frame, probe
    from detector.backbones import BACKBONE_DIMS
    from detector.embed import Embeddings, embed_video, resolve_backbone_set
    from detector.errors import DecodeError, DetectorError, DownloadError, MissingWeightsError, ModelFileError
    from detector.fetch import fetch_published_model
    from detector.digest import builtin_digest, tensors_digest
    from detector.head import SceneModel, load_backbone_tensors, load_model, save_model, score
    from detector.quality import CrossValidation, cross_validate
    from detector.train import train_head
    from detector.weights import fetch_weights


def __getattr__(name: str) -> Any:
    """Load a public name's module on first use (keeps torch out of `import detector`)."""
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'detector' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
