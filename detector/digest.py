"""Names for backbone weights: the SHA-256 digests that say which networks a set of embeddings came from.

Embeddings made by two backbone networks can only be mixed when the networks are the same, so stored embeddings are
keyed by (backbone set, digest). For a set whose weights travel inside the model file (`published`) the digest is
`tensors_digest` of those tensors. For the built-in sets it is derived from the pinned SHA-256 of their weight files
(`builtin_digest`), so it is known without hashing anything and changes when a pinned file changes.
Nothing here imports torch.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

import numpy as np

from detector.backbones import backbone_set as registry_entry
from detector.constants import RANDOM_INIT_SEED
from detector.errors import DetectorError


def tensors_digest(tensors: Mapping[str, np.ndarray]) -> str:
    """SHA-256 (hex) of named tensors, independent of file layout: for each name in sorted order, the name, dtype,
    shape and the C-order little-endian bytes, each part length-prefixed."""
    digest = hashlib.sha256()

    def part(data: bytes) -> None:
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)

    for name in sorted(tensors):
        array = np.asarray(tensors[name])
        array = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
        part(name.encode("utf-8"))
        part(array.dtype.str.encode("ascii"))
        part(json.dumps(list(array.shape)).encode("ascii"))
        part(array.tobytes(order="C"))
    return digest.hexdigest()


def builtin_digest(backbone_set: str, *, random_init: bool = False) -> str:
    """The digest of a set whose weights are pinned in detector.backbones (paper, offline): SHA-256 over the pinned
    SHA-256 of its weight files, or over the seed when its networks are randomly initialised (tests, benchmarks)."""
    info = registry_entry(backbone_set)
    if info.in_model_file:
        raise DetectorError(
            f"The {backbone_set!r} backbones are the tensors inside a model file; their digest is in its card "
            "(SceneModel.backbone_digest)."
        )
    files = list(info.pinned_sha256)
    identity = {"set": backbone_set, "weights": [f"random-init seed {RANDOM_INIT_SEED}"] if random_init else files}
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode("ascii")).hexdigest()


def is_digest(value: object) -> bool:
    """Whether value is a lower-case hex SHA-256."""
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)
