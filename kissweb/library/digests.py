"""The digest naming the weights of a standard backbone set (paper, offline), which the detector's checksums fix.

A leaf module (no Django models): the library's models fill a row's digest with it, and kissweb.analysis.backbones
builds on it.
"""

from __future__ import annotations

PAPER, OFFLINE = "paper", "offline"  # library.models.BackboneSet values


class BackbonesUnknown(ValueError):
    """A model names a backbone set (or digest) this install cannot embed with; str() says which and why."""


def standard_digest(backbone_set: str) -> str:
    """The digest of a set whose weights are fixed by the detector's checksums (paper, offline)."""
    import detector

    if backbone_set not in (PAPER, OFFLINE):
        raise BackbonesUnknown(f"The backbone set '{backbone_set}' has no fixed weights; its model names them.")
    return detector.builtin_digest(backbone_set)
