"""Fixtures of the analysis tests: movies on disk, real model files, and an embedder that records its calls.

The fast tests replace detector.embed_video with `ScriptedEmbedder` (per-second features whose first column is
1.0 on the seconds the test calls positive) so that the pipeline's bookkeeping, faults and segment positions are
checked in seconds. The slow tests in test_worker_e2e.py run the real detector in a real worker.
"""

from __future__ import annotations

import hashlib
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

import detector
from detector.head import SceneModel, make_card, save_model
from kissweb.library.models import Movie, SceneType

OFFLINE_DIMS = (1280, 128)
PAPER_DIMS = (512, 128)


@dataclass
class FakeEmbeddings:
    image: np.ndarray
    audio: np.ndarray
    times_s: np.ndarray
    backbone_set: str
    duration_s: float
    timings_s: dict
    backbone_digest: str = ""
    audio_warning: str = ""
    decoding: dict = field(default_factory=dict)

    def features(self) -> np.ndarray:
        return np.concatenate([self.image, self.audio], axis=1).astype(np.float32)


@dataclass
class ScriptedEmbedder:
    """Stands in for detector.embed_video: feature 0 is 1.0 on `positive` seconds; every call is recorded."""

    n_windows: int = 30
    positive: set = field(default_factory=set)
    calls: list = field(default_factory=list)
    on_window: object = None  # called with the window index before progress is reported (fault injection)
    audio_warning: str = ""  # what the detector says when the film's audio track cannot be decoded

    def __call__(self, path, *, backbones="auto", device=None, random_init=False, batch_size=32, progress=None):
        backbone_set = "offline" if backbones == "auto" else backbones
        self.calls.append((str(path), backbone_set))
        if not Path(path).is_file():
            raise detector.DecodeError(f"{path} does not exist or cannot be opened.")
        dims = OFFLINE_DIMS if backbone_set == "offline" else PAPER_DIMS
        rng = np.random.default_rng(len(self.calls))
        image = rng.normal(0, 0.01, (self.n_windows, dims[0])).astype(np.float32)
        audio = rng.normal(0, 0.01, (self.n_windows, dims[1])).astype(np.float32)
        for second in self.positive:
            image[second, 0] = 1.0
        for index in range(self.n_windows):
            if self.on_window is not None:
                self.on_window(index)
            if progress is not None:
                progress(index + 1, self.n_windows)
        return FakeEmbeddings(
            image=image, audio=audio, times_s=np.arange(self.n_windows, dtype=np.float64),
            backbone_set=backbone_set, duration_s=float(self.n_windows), timings_s={"decode": 0.01, "image": 0.02},
            backbone_digest=detector.builtin_digest(backbone_set), audio_warning=self.audio_warning,
            decoding={"backend": "ffmpeg", "decoders": 1, "reason": "the networks run on the CPU"},
        )


@pytest.fixture
def media_root(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_ROOT.mkdir()
    return settings.MEDIA_ROOT


@pytest.fixture
def embedder(monkeypatch) -> ScriptedEmbedder:
    scripted = ScriptedEmbedder()
    # setitem on the module's namespace: works whether or not detector.embed has landed (no lazy import).
    monkeypatch.setitem(detector.__dict__, "embed_video", scripted)
    monkeypatch.setitem(detector.__dict__, "resolve_backbone_set", lambda name: "offline" if name == "auto" else name)
    return scripted


@pytest.fixture
def kissing(db) -> SceneType:
    # A transactional test before this one may have flushed the seeded row.
    return SceneType.objects.get_or_create(slug="kissing", defaults={"name": "Kissing"})[0]


@pytest.fixture
def make_movie(media_root, small_video, user):
    """make_movie(duration_s=30.0, title=...) -> a Movie row whose file (a real small video) is in MEDIA_ROOT."""

    def make(*, duration_s: float = 30.0, title: str = "Test movie", owner=None) -> Movie:
        name = f"movies/{uuid.uuid4().hex}.mp4"
        target = media_root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(small_video, target)
        return Movie.objects.create(
            title=title, original_filename="small.mp4", file=name, size_bytes=target.stat().st_size,
            sha256=hashlib.sha256(uuid.uuid4().bytes).hexdigest(), duration_s=duration_s, width=320, height=240,
            fps=25.0, has_audio=True, uploaded_by=owner or user,
        )

    return make


def first_feature_model(
    *, scene_type: str = "kissing", backbone_set: str = "offline", sharpness: float = 20.0, channel_order: str = "RGB"
):
    """A real head whose P(scene) is high exactly where feature 0 is 1.0 (sigmoid(sharpness * (x0 - 0.5)))."""
    dims = OFFLINE_DIMS if backbone_set == "offline" else PAPER_DIMS
    weight = np.zeros((2, sum(dims)), np.float32)
    weight[1, 0] = sharpness
    bias = np.array([0.0, -sharpness / 2], np.float32)
    card = make_card(
        scene_type=scene_type, backbone_set=backbone_set, image_dim=dims[0], audio_dim=dims[1],
        channel_order=channel_order,
    )
    return SceneModel(weight=weight, bias=bias, card=card)


@pytest.fixture
def model_file(tmp_path):
    """model_file(scene_type="kissing", backbone_set="offline") -> path of a real .safetensors model file."""
    counter = iter(range(1000))

    def make(**kwargs) -> Path:
        return save_model(first_feature_model(**kwargs), tmp_path / f"model-{next(counter)}.safetensors")

    return make


@pytest.fixture
def active_model(kissing, model_file):
    """active_model(backbone_set="offline") -> an active ModelVersion registered through the service."""
    from kissweb.analysis.services import model_version_create
    from kissweb.analysis.models import ModelVersion

    def make(**kwargs):
        version = model_version_create(scene_type=kissing, file=model_file(**kwargs), name="test model")
        ModelVersion.objects.filter(scene_type=kissing).update(is_active=False)
        ModelVersion.objects.filter(pk=version.pk).update(is_active=True)
        version.refresh_from_db()
        return version

    return make
