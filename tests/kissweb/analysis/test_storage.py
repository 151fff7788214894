from __future__ import annotations

import errno

import numpy as np
import pytest

from kissweb.analysis import storage


def test_write_then_read_gives_float32_close_to_the_input(media_root):
    features = np.random.default_rng(0).normal(0, 3, (50, 20)).astype(np.float32)
    name = storage.embeddings_write(features=features, movie_id=7, backbone_set="offline")
    assert name.startswith("embeddings/movie-7-offline-") and name.endswith(".npy")
    back = storage.embeddings_read(name=name)
    assert back.dtype == np.float32 and back.shape == (50, 20)
    assert np.allclose(back, features, rtol=1e-3, atol=1e-3)
    assert np.load(media_root / name).dtype == np.float16


def test_values_beyond_float16_are_stored_as_float32_not_clipped(media_root):
    features = np.array([[1e6, -2.5], [0.0, 7e4]], np.float32)
    name = storage.embeddings_write(features=features, movie_id=1, backbone_set="paper")
    assert np.array_equal(storage.embeddings_read(name=name), features)


def test_every_write_gets_a_new_file(media_root):
    features = np.zeros((3, 4), np.float32)
    first = storage.embeddings_write(features=features, movie_id=1, backbone_set="offline")
    second = storage.embeddings_write(features=features, movie_id=1, backbone_set="offline")
    assert first != second and (media_root / first).exists() and (media_root / second).exists()


def test_disk_full_leaves_no_partial_file(media_root, monkeypatch):
    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(storage.np, "save", no_space)
    with pytest.raises(OSError) as caught:
        storage.embeddings_write(features=np.ones((4, 4), np.float32), movie_id=3, backbone_set="offline")
    assert caught.value.errno == errno.ENOSPC
    assert list((media_root / "embeddings").iterdir()) == []


def test_exact_embeddings_are_stored_as_float32_bit_for_bit(media_root):
    features = np.random.default_rng(1).normal(0, 3, (20, 8)).astype(np.float32)
    name = storage.embeddings_write(features=features, movie_id=2, backbone_set="published", exact=True)
    assert np.load(media_root / name).dtype == np.float32
    assert np.array_equal(storage.embeddings_read(name=name), features)
