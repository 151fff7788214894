"""Which per-second embeddings a model needs: its backbone set and the digest of that set's weights.

Embeddings are stored per (movie, backbone set, digest). The `paper` and `offline` sets have one possible version
each (their weight files are verified by SHA-256), so their digest follows from those checksums. A `published` model
carries its own fine-tuned backbones, and its card names their digest: two published models with different
backbones need different embeddings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kissweb.library.digests import (  # noqa: F401 - part of this module's face
    SET_NAMES,
    STANDARD_SETS,
    BackbonesUnknown,
    carries_backbones,
    standard_digest,
)

DIGEST_PATTERN = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class BackboneKey:
    backbone_set: str
    digest: str

    def __str__(self) -> str:
        return f"{self.backbone_set} ({self.digest[:8]})"


def key_of_card(card: dict) -> BackboneKey:
    """The embeddings a model file's card asks for; BackbonesUnknown when this install cannot make them."""
    backbone_set = str(card.get("backbone_set") or "")
    if backbone_set in STANDARD_SETS:
        return BackboneKey(backbone_set, standard_digest(backbone_set))
    if carries_backbones(backbone_set):
        digest = str((card.get("backbones") or {}).get("sha256") or "")
        if not DIGEST_PATTERN.match(digest):
            raise BackbonesUnknown(
                f"This model needs the {backbone_set} backbones but its card names no digest of them (an import by an "
                "older version). Import it again (the published model: its model.pkl) so its own backbones travel with it."
            )
        return BackboneKey(backbone_set, digest)
    raise BackbonesUnknown(
        f"This model needs the backbone set '{backbone_set}', which this install does not know "
        f"(known: {', '.join(SET_NAMES)})."
    )


def key_of_version(version) -> BackboneKey:
    return BackboneKey(version.backbone_set, version.backbone_digest)


def primary_key() -> BackboneKey:
    """The set a new analysis embeds first (paper when its weights are present, else offline)."""
    import detector

    backbone_set = detector.resolve_backbone_set("auto")
    return BackboneKey(backbone_set, standard_digest(backbone_set))
