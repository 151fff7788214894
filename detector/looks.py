"""Other looks of a labelled clip, for training only: the same moment as old film, a dark TV scene, a picture on a
monitor inside the frame, a colour cast, a mirror image.

A few labelled clips show a few looks; a head trained on them learns the look (colour, brightness, framing) as
much as the scene. Training on transformed copies of every labelled second, with the same label, tells the head
which differences do not matter. Each look is a fixed, deterministic function of a batch of decoded frames
(b, 224, 224, 3) uint8 RGB -> the same shape, seeded by the window index where it adds noise; detection never
uses them.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

Look = Callable[[np.ndarray, int], np.ndarray]

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def mirror(frames: np.ndarray, start: int) -> np.ndarray:
    """Left and right swapped."""
    return np.ascontiguousarray(frames[:, :, ::-1])


def old_film(frames: np.ndarray, start: int) -> np.ndarray:
    """Black and white, softer contrast, lifted blacks, film grain and a vignette (an early film print)."""
    gray = frames.astype(np.float32) @ _LUMA
    gray = 30.0 + gray * (190.0 / 255.0)
    h, w = gray.shape[1:]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    radius = np.sqrt(((yy - h / 2) / (h / 2)) ** 2 + ((xx - w / 2) / (w / 2)) ** 2)
    gray *= np.clip(1.15 - 0.35 * radius, 0.55, 1.0)
    rng = np.random.default_rng(start)
    gray += rng.normal(0.0, 12.0, size=gray.shape).astype(np.float32)
    return _to_uint8(np.repeat(gray[..., None], 3, axis=3))


def dark(frames: np.ndarray, start: int) -> np.ndarray:
    """A dark, low-contrast scene: gamma 2.2 then 60 % brightness, a little sensor noise."""
    x = frames.astype(np.float32) / 255.0
    x = 255.0 * 0.6 * x**2.2 + 4.0
    rng = np.random.default_rng(start + 1)
    x += rng.normal(0.0, 3.0, size=x.shape).astype(np.float32)
    return _to_uint8(x)


def on_monitor(frames: np.ndarray, start: int) -> np.ndarray:
    """The picture shrunk to a screen inside a larger, dim room: half size, a bezel, off centre."""
    b, h, w, _ = frames.shape
    sh, sw = h // 2, w // 2
    top, left = h // 5, w // 3
    small = frames[:, ::2, ::2][:, :sh, :sw].astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    room = 55.0 + 25.0 * (xx / w) - 20.0 * (yy / h)
    out = np.empty((b, h, w, 3), dtype=np.float32)
    out[:] = room[None, :, :, None] * np.array([1.0, 0.95, 0.85], dtype=np.float32)
    bezel = 6
    out[:, top - bezel:top + sh + bezel, left - bezel:left + sw + bezel] = 18.0
    out[:, top:top + sh, left:left + sw] = small * 0.9 + 10.0  # a screen's raised blacks
    return _to_uint8(out)


def warm_cast(frames: np.ndarray, start: int) -> np.ndarray:
    """Sunset / tungsten colour: red up, blue down."""
    x = frames.astype(np.float32) * np.array([1.12, 0.97, 0.72], dtype=np.float32) + np.array([18.0, 6.0, 0.0])
    return _to_uint8(x)


def cool_night(frames: np.ndarray, start: int) -> np.ndarray:
    """Blue night grade, dimmer."""
    x = frames.astype(np.float32) * np.array([0.62, 0.78, 1.0], dtype=np.float32) * 0.85 + np.array([0.0, 4.0, 14.0])
    return _to_uint8(x)


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


LOOKS: dict[str, Look] = {
    "mirror": mirror,
    "old_film": old_film,
    "dark": dark,
    "on_monitor": on_monitor,
    "warm_cast": warm_cast,
    "cool_night": cool_night,
}
DEFAULT_LOOKS = tuple(LOOKS)


def check_looks(names) -> tuple[str, ...]:
    """The names as a tuple, or DetectorError naming the unknown one."""
    from detector.errors import DetectorError

    names = tuple(names)
    for name in names:
        if name not in LOOKS:
            raise DetectorError(f"Unknown look {name!r}; choose from {', '.join(LOOKS)}.")
    return names
