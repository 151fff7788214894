"""Training looks: each is a deterministic picture transform of the same shape, and embed_video embeds them."""

from __future__ import annotations

import numpy as np
import pytest

from detector.errors import DetectorError
from detector.looks import LOOKS, check_looks


@pytest.fixture
def frames():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(3, 224, 224, 3), dtype=np.uint8)


@pytest.mark.parametrize("name", sorted(LOOKS))
def test_each_look_keeps_shape_and_type_changes_the_picture_and_repeats(frames, name):
    out = LOOKS[name](frames, 5)
    assert out.shape == frames.shape and out.dtype == np.uint8
    assert not np.array_equal(out, frames)
    np.testing.assert_array_equal(out, LOOKS[name](frames, 5))


def test_looks_do_what_they_say(frames):
    np.testing.assert_array_equal(LOOKS["mirror"](frames, 0)[:, :, 0], frames[:, :, -1])
    old = LOOKS["old_film"](frames, 0).astype(int)
    assert np.array_equal(old[..., 0], old[..., 1]) and np.array_equal(old[..., 1], old[..., 2])
    assert LOOKS["dark"](frames, 0).mean() < 0.5 * frames.mean()
    monitor = LOOKS["on_monitor"](frames, 0).astype(float)
    assert monitor[:, :20, :20].std() < 10  # the room around the screen is plain
    warm = LOOKS["warm_cast"](frames, 0).astype(float)
    assert warm[..., 0].mean() > frames[..., 0].mean() and warm[..., 2].mean() < frames[..., 2].mean()


def test_unknown_look_is_a_clear_error():
    with pytest.raises(DetectorError, match="Unknown look 'sepia'"):
        check_looks(["mirror", "sepia"])


def test_embed_video_adds_look_embeddings_without_changing_the_real_ones(small_video):
    from detector.embed import embed_video

    plain = embed_video(small_video, backbones="offline", random_init=True)
    looked = embed_video(small_video, backbones="offline", random_init=True, looks=("mirror", "dark"))
    np.testing.assert_array_equal(plain.image, looked.image)
    np.testing.assert_array_equal(plain.audio, looked.audio)
    assert set(looked.looks) == {"mirror", "dark"} and plain.looks == {}
    for name in ("mirror", "dark"):
        assert looked.looks[name].shape == plain.image.shape and not np.allclose(looked.looks[name], plain.image)
