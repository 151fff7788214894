"""detect(): the one-call pipeline, video -> per-second scores -> scene segments, with timings."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from detector.aggregate import (
    DEFAULT_CUT, DEFAULT_MIN_FRAMES, DEFAULT_THRESHOLD, Segment, aggregate_probabilities,
)
from detector.errors import ModelFileError
from detector.head import SceneModel, load_model, score


@dataclass
class Detection:
    """What `detect` found: one score per 1-second window, the segments, the model's card and where time went."""

    duration_s: float
    scores: np.ndarray
    segments: list[Segment]
    model: dict[str, Any]
    timings_s: dict[str, float]
    backbone_set: str
    window_s: float = 1.0
    warnings: list[str] = field(default_factory=list)
    cut: float = DEFAULT_CUT
    decoding: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The CLI's JSON: duration_s, window_s, scores, segments [{start_s, end_s, confidence}], model, timings_s,
        decoding {backend: ffmpeg|nvdec, decoders, reason}."""
        return {
            "duration_s": float(self.duration_s),
            "window_s": self.window_s,
            "backbone_set": self.backbone_set,
            "cut": self.cut,
            "scores": [round(float(p), 6) for p in self.scores],
            "segments": [
                {"start_s": s.start_s, "end_s": s.end_s, "confidence": round(s.confidence, 6)} for s in self.segments
            ],
            "model": self.model,
            "timings_s": {name: round(float(value), 4) for name, value in self.timings_s.items()},
            "warnings": self.warnings,
            "decoding": self.decoding,
        }


def detect(
    path: str | Path,
    *,
    model: SceneModel | str | Path,
    backbones: str | None = None,
    cut: float | None = None,
    min_frames: int = DEFAULT_MIN_FRAMES,
    threshold: float = DEFAULT_THRESHOLD,
    device: str | None = None,
    random_init: bool | None = None,
    batch_size: int = 32,
    progress: Callable[[int, int], None] | None = None,
    decoder: str | None = None,
    decoders: int | None = None,
) -> Detection:
    """Find the model's scenes in a video: embed (one pass) -> score each second -> Algorithm 1.

    `model` is a SceneModel or a model file. The video is embedded with the model's backbone set (`backbones`
    may only repeat it, or be "auto"), its own backbones where the file carries them (published), and, where the
    model's card says BGR, with BGR frames. `random_init` None follows the card (models trained on randomly
    initialised backbones, for tests). `cut` None is the card's calibrated cut where its recipe stored one
    (`detector.quality.model_cut`), else 0.5. `decoder`, `decoders`: see embed_video. Raises DetectorError subclasses.
    """
    started = time.perf_counter()
    if not isinstance(model, SceneModel):
        model = load_model(model)
    card = model.card
    backbone_set = model.backbone_set
    if backbones not in (None, "auto", backbone_set):
        raise ModelFileError(
            f"The model was trained on {backbone_set!r} features, so it cannot score {backbones!r} embeddings; "
            f"leave --backbones out or pass {backbone_set!r}."
        )
    if random_init is None:
        random_init = model.random_init_backbones and not model.carries_backbones
    from detector.embed import embed_video

    notes: list[str] = []
    if random_init:
        notes.append("scored on randomly initialised backbones (a test model); the scores mean nothing for films.")
    loaded = time.perf_counter()
    embeddings = embed_video(
        path, model=model, device=device, random_init=random_init, batch_size=batch_size, progress=progress,
        decoder=decoder, decoders=decoders,
    )
    if embeddings.audio_warning:
        notes.append(embeddings.audio_warning)
    embedded = time.perf_counter()
    scores = score(embeddings.features(), model)
    scored = time.perf_counter()
    if cut is None:
        from detector.quality import model_cut

        cut = model_cut(card)
    segments = aggregate_probabilities(scores, cut=cut, min_frames=min_frames, threshold=threshold)
    done = time.perf_counter()
    timings = {f"embed_{name}": float(value) for name, value in (embeddings.timings_s or {}).items()}
    timings.update(
        load_model=loaded - started, embed=embedded - loaded, head=scored - embedded, aggregate=done - scored,
        total=done - started,
    )
    return Detection(
        duration_s=float(embeddings.duration_s),
        scores=scores,
        segments=segments,
        model=card,
        timings_s=timings,
        backbone_set=backbone_set,
        warnings=notes,
        cut=float(cut),
        decoding=dict(embeddings.decoding),
    )
