"""Helpers of the training tests: movies with stored synthetic per-second embeddings, annotations."""

from __future__ import annotations

import hashlib
import itertools

import numpy as np
import pytest

from kissweb.analysis import storage
from kissweb.analysis.models import MovieEmbedding
from kissweb.library.models import Annotation, Movie, SceneType

IMAGE_DIM, AUDIO_DIM = 1280, 128  # the offline backbone set
_serial = itertools.count()


def synthetic_features(kinds: list[int], *, seed: int, dim: int = IMAGE_DIM + AUDIO_DIM) -> np.ndarray:
    """One row per second; rows of kind 1 ("the scene") lie apart from kind 0 along a fixed direction, plus noise."""
    rng = np.random.default_rng(seed)
    direction = np.random.default_rng(12345).standard_normal(dim).astype(np.float32)
    direction /= np.linalg.norm(direction)
    noise = rng.standard_normal((len(kinds), dim)).astype(np.float32) * 0.3
    return noise + np.outer(np.asarray(kinds, np.float32) * 2.0 - 1.0, direction) * 1.5


def embedding_store(movie: Movie, features: np.ndarray, *, backbone_set: str = "offline") -> MovieEmbedding:
    """Store per-second embeddings the way analysis does."""
    name = storage.embeddings_write(features=features, movie_id=movie.pk, backbone_set=backbone_set)
    return MovieEmbedding.objects.create(
        movie=movie, backbone_set=backbone_set, file=name, n_windows=features.shape[0],
        image_dim=IMAGE_DIM, audio_dim=features.shape[1] - IMAGE_DIM,
    )


def movie_make(owner, *, duration_s: float, title: str | None = None) -> Movie:
    n = next(_serial)
    return Movie.objects.create(
        title=title or f"Synthetic {n}", original_filename=f"synthetic-{n}.mp4", file=f"movies/synthetic-{n}.mp4",
        size_bytes=1000, sha256=hashlib.sha256(f"synthetic-{n}-{duration_s}".encode()).hexdigest(),
        duration_s=duration_s, width=160, height=120, fps=25, has_audio=True, uploaded_by=owner,
    )


def movie_with_scenes(owner, *, kinds: list[int], seed: int) -> Movie:
    """A movie whose second k shows content of kinds[k], with its embeddings stored."""
    movie = movie_make(owner, duration_s=float(len(kinds)))
    embedding_store(movie, synthetic_features(kinds, seed=seed))
    return movie


def annotate(movie, scene_type, start_s, end_s, label, author) -> Annotation:
    return Annotation.objects.create(
        movie=movie, scene_type=scene_type, start_s=start_s, end_s=end_s, label=label, author=author
    )


@pytest.fixture
def kissing(db):
    # Transactional tests empty the tables between tests; the seeded scene type comes back here.
    scene_type, _ = SceneType.objects.get_or_create(slug="kissing", defaults={"name": "Kissing"})
    return scene_type


@pytest.fixture
def labelled_library(user, kissing):
    """Three 60-second movies, each 20 s other, 20 s scene, 20 s other, every span annotated: 3 positive, 6 negative."""
    movies = []
    for seed in range(3):
        kinds = [0] * 20 + [1] * 20 + [0] * 20
        movie = movie_with_scenes(user, kinds=kinds, seed=seed)
        annotate(movie, kissing, 0, 20, "negative", user)
        annotate(movie, kissing, 20, 40, "positive", user)
        annotate(movie, kissing, 40, 60, "negative", user)
        movies.append(movie)
    return movies


def make_stretches_video(path, stretches: list[tuple[str, int, int]], *, size: str = "160x120"):
    """One movie concatenated (ffmpeg concat filter) from stretches of (colour, tone Hz, seconds)."""
    from tests.mediagen import ffmpeg

    args: list[str] = []
    links = ""
    for i, (colour, tone_hz, seconds) in enumerate(stretches):
        args += ["-f", "lavfi", "-i", f"color=c={colour}:size={size}:rate=25:duration={seconds}"]
        args += ["-f", "lavfi", "-i", f"sine=frequency={tone_hz}:sample_rate=44100:duration={seconds}"]
        links += f"[{2 * i}:v][{2 * i + 1}:a]"
    graph = f"{links}concat=n={len(stretches)}:v=1:a=1[v][a]"
    ffmpeg(*args, "-filter_complex", graph, "-map", "[v]", "-map", "[a]", "-c:v", "libx264", "-preset", "ultrafast",
           "-pix_fmt", "yuv420p", "-c:a", "aac", str(path))
    return path
