"""NVDEC on a CUDA device: its pictures and embeddings against the ffmpeg path's, K decoders, and the fallback.

Skipped (with the reason) where there is no CUDA device or PyNvVideoCodec; bench/gpu/run.sh runs them on one.
"""

from __future__ import annotations

import numpy as np
import pytest

from detector.decode import iter_window_batches, probe
from detector.decode.backends import nvdec_unavailable
from tests.detector.test_decode import make_indexed_video, read_index
from tests.mediagen import make_video

pytestmark = pytest.mark.gpu
torch = pytest.importorskip("torch")
if not torch.cuda.is_available():
    pytest.skip("no CUDA device", allow_module_level=True)
if nvdec_unavailable():
    pytest.skip(nvdec_unavailable(), allow_module_level=True)

from detector.decode.nvdec import iter_window_pictures  # noqa: E402
from detector.embed import embed_video  # noqa: E402


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    folder = tmp_path_factory.mktemp("nvdec")
    # 720p with B-frames (frames are stored out of display order) and AAC sound
    film = make_video(folder / "film.mp4", duration_s=12.0, size="1280x720", extra=("-preset", "veryfast"))
    indexed = make_indexed_video(folder / "indexed.mp4", duration_s=8, extra=("-preset:v", "medium", "-bf", "3"))
    return {"film": film, "indexed": indexed}


def nvdec_pictures(path, *, decoders=1, chunk=4, color="NATIVE") -> np.ndarray:
    info = probe(path)
    got = dict(iter_window_pictures(path, info=info, decoders=decoders, chunk=chunk, color=color))
    return torch.cat([got[k] for k in sorted(got)]).cpu().numpy()


def ffmpeg_pictures(path) -> np.ndarray:
    return np.concatenate([b.frames for b in iter_window_batches(path, fast=False)])


def test_nvdec_picks_the_frames_ffmpeg_picks(media):
    path = media["indexed"]
    assert [read_index(f) for f in nvdec_pictures(path, decoders=3)] == [read_index(f) for f in ffmpeg_pictures(path)]


@pytest.mark.parametrize("color", ["NATIVE", "RGBP"])
def test_nvdec_pictures_match_ffmpeg_after_resize(media, color):
    cpu = ffmpeg_pictures(media["film"]).astype(np.float32)
    gpu = nvdec_pictures(media["film"], color=color).astype(np.float32)
    assert gpu.shape == cpu.shape == (12, 224, 224, 3)
    diff = np.abs(gpu - cpu).mean()
    print(f"mean abs difference NVDEC ({color}) vs ffmpeg: {diff:.3f} / 255")
    if color == "NATIVE":  # the one the analysis uses; RGBP (the decoder's own conversion) is only reported
        assert diff < 2.0


def test_nvdec_embeddings_match_ffmpeg_and_the_path_is_recorded(media):
    kw = dict(backbones="paper", random_init=True, device="cuda", batch_size=4)
    cpu = embed_video(media["film"], decoder="ffmpeg", exact_frames=True, **kw)
    gpu = embed_video(media["film"], decoder="nvdec", decoders=2, **kw)
    assert cpu.decoding["backend"] == "ffmpeg" and gpu.decoding == {
        "backend": "nvdec", "decoders": 2, "reason": "NVDEC reads h264 in mp4 on the GPU"}
    # the pictures differ by ~1/255 (resampling rounding): the embeddings by well under 1% (relative L2)
    assert np.linalg.norm(gpu.image - cpu.image) / np.linalg.norm(cpu.image) < 1e-2
    np.testing.assert_allclose(gpu.audio, cpu.audio, rtol=1e-5, atol=1e-5)  # both read by ffmpeg


def test_k_decoders_give_the_embeddings_of_one_in_order(media):
    kw = dict(backbones="paper", random_init=True, device="cuda", batch_size=4, decoder="nvdec")
    one = embed_video(media["film"], decoders=1, **kw)
    for k in (2, 3, 5):
        split = embed_video(media["film"], decoders=k, **kw)
        np.testing.assert_array_equal(split.image, one.image)
        np.testing.assert_array_equal(split.audio, one.audio)


@pytest.mark.parametrize(("name", "codec", "audio"), [("part2.mp4", "mpeg4", "aac"), ("vp8.webm", "libvpx", "libvorbis")])
def test_a_codec_nvdec_lacks_falls_back_to_ffmpeg(tmp_path, name, codec, audio):
    path = make_video(tmp_path / name, duration_s=3.0, size="640x360", vcodec=codec, acodec=audio)
    kw = dict(backbones="paper", random_init=True, device="cuda")
    asked = embed_video(path, decoder="nvdec", **kw)
    assert asked.decoding["backend"] == "ffmpeg" and "NVDEC does not decode" in asked.decoding["reason"]
    plain = embed_video(path, decoder="ffmpeg", **kw)
    np.testing.assert_array_equal(asked.image, plain.image)
