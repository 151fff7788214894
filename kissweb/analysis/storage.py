"""Per-second embeddings on disk: one .npy file per movie and backbone set under MEDIA_ROOT/embeddings/.

Rows are (n_windows, image_dim + audio_dim). They are stored as float16: half the bytes of float32 (a two-hour
movie with the offline backbones is 20 MB instead of 40 MB), which is what re-scoring the library reads, and a
linear head's probabilities move by less than 1e-3 (measured in bench/RESULTS-rescore.md). Values outside
float16's range are stored as float32 instead, so nothing is ever clipped. The published model's embeddings are
stored as float32 (exact=True): its scores after a switch back must still equal its own forward pass (to 1e-4).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import numpy as np
from django.conf import settings

from kissweb.analysis.models import MovieEmbedding

EMBEDDINGS_DIR = "embeddings"
_FLOAT16_MAX = float(np.finfo(np.float16).max)


def embeddings_name(*, movie_id: int, backbone_set: str) -> str:
    """A fresh file name (relative to MEDIA_ROOT) for new embeddings; replacing never overwrites in place."""
    return f"{EMBEDDINGS_DIR}/movie-{movie_id}-{backbone_set}-{uuid.uuid4().hex[:12]}.npy"


def media_path(name: str) -> Path:
    return Path(settings.MEDIA_ROOT) / name


def embeddings_write(*, features: np.ndarray, movie_id: int, backbone_set: str, exact: bool = False) -> str:
    """Write features (n, D) and return the file's name relative to MEDIA_ROOT (exact: float32, never float16).

    The file appears whole or not at all (written beside, then renamed). An OSError such as ENOSPC propagates
    after the partial file is removed.
    """
    features = np.asarray(features)
    if features.ndim != 2:
        raise ValueError(f"embeddings must be a 2-D array (windows x features), got shape {features.shape}")
    fits_half = not exact and (features.size == 0 or float(np.nanmax(np.abs(features))) <= _FLOAT16_MAX)
    stored = features.astype(np.float16 if fits_half else np.float32, copy=False)
    name = embeddings_name(movie_id=movie_id, backbone_set=backbone_set)
    path = media_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    try:
        with open(partial, "wb") as handle:
            np.save(handle, np.ascontiguousarray(stored), allow_pickle=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return name


def embeddings_read(*, name: str) -> np.ndarray:
    """The stored features as a float32 (n, D) array."""
    return np.load(media_path(name), allow_pickle=False).astype(np.float32, copy=False)


def embedding_features(embedding: MovieEmbedding) -> np.ndarray:
    """The (n_windows, image_dim + audio_dim) float32 matrix of one stored MovieEmbedding row."""
    features = embeddings_read(name=embedding.file.name)
    expected = (embedding.n_windows, embedding.image_dim + embedding.audio_dim)
    if features.shape != expected:
        raise ValueError(
            f"The embeddings file {embedding.file.name} holds an array of shape {features.shape} but its row says "
            f"{expected}; analyse the movie again to rebuild it."
        )
    return features


def embeddings_delete(*, name: str) -> None:
    if name:
        media_path(name).unlink(missing_ok=True)
