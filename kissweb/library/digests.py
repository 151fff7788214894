"""Backbone sets as kissweb sees them, read from the detector's registry (detector.backbones): the names the model
fields offer, which sets have fixed weights, and the digest naming those weights.

A leaf module (no Django models): the library's models fill a row's digest with it, and kissweb.analysis.backbones
builds on it.
"""

from __future__ import annotations

from detector.backbones import BUILTIN_SETS, SETS

SET_NAMES = tuple(SETS)  # the choices of every backbone_set field
# sets whose weights the detector's checksums fix: one digest each. The others' weights travel in the model file.
STANDARD_SETS = BUILTIN_SETS


class BackbonesUnknown(ValueError):
    """A model names a backbone set (or digest) this install cannot embed with; str() says which and why."""


def carries_backbones(backbone_set: str) -> bool:
    """Whether a model of this set carries its own backbones in its model file (they are named by its card)."""
    info = SETS.get(backbone_set)
    return info is not None and info.in_model_file


def standard_digest(backbone_set: str) -> str:
    """The digest of a set whose weights are fixed by the detector's checksums (STANDARD_SETS)."""
    import detector

    if backbone_set not in STANDARD_SETS:
        raise BackbonesUnknown(f"The backbone set '{backbone_set}' has no fixed weights; its model names them.")
    return detector.builtin_digest(backbone_set)
