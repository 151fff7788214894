"""The one typeface of exported pictures (supercut title cards, contact sheets): DejaVu Sans, the font files shipped
inside matplotlib's wheel (a pinned dependency; the fonts' licence, a free Bitstream Vera derivative, is
LICENSE_DEJAVU in the same folder). It covers Latin, Greek and Cyrillic and the punctuation drawn here ("0:00 – 0:03");
Pillow's built-in face has no en dash and drew a box. Scripts it lacks (Chinese, Japanese, ...) still come out as
boxes."""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

REGULAR, BOLD = "DejaVuSans.ttf", "DejaVuSans-Bold.ttf"


def font_path(*, bold: bool = False) -> Path:
    """The font file, found without importing matplotlib."""
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("matplotlib (it ships the DejaVu fonts exports draw with) is not installed; "
                           "install requirements.txt.")
    return Path(spec.submodule_search_locations[0]) / "mpl-data" / "fonts" / "ttf" / (BOLD if bold else REGULAR)


@lru_cache(maxsize=32)
def font(size: int, *, bold: bool = False):
    from PIL import ImageFont

    return ImageFont.truetype(str(font_path(bold=bold)), size=size)
