"""embed_video: dimensions, window times, determinism, content sensitivity, progress and cancellation."""

from __future__ import annotations

import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from detector.backbones import BACKBONE_DIMS
from detector.constants import LOG_OFFSET
from detector.embed import Embeddings, embed_video, resolve_backbone_set
from detector.errors import DecodeError, DetectorError
from tests.detector.media import ffmpeg_children
from tests.mediagen import make_colour_video, make_video

pytestmark = pytest.mark.filterwarnings("ignore:Backbone set .* RANDOM weights:UserWarning")


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("embed")
    return {
        "red_low": make_colour_video(folder / "red_low.mp4", colour="red", tone_hz=300, duration_s=3.5),
        "blue_low": make_colour_video(folder / "blue_low.mp4", colour="blue", tone_hz=300, duration_s=3.5),
        "red_high": make_colour_video(folder / "red_high.mp4", colour="red", tone_hz=3000, duration_s=3.5),
        "silent": make_video(folder / "silent.mp4", duration_s=3.2, size="160x120", audio=None),
        "long": make_video(folder / "long.mp4", duration_s=12, size="160x120"),
    }


@pytest.fixture(autouse=True)
def no_paper_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("KISSWEB_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))


@pytest.mark.parametrize("backbones,random_init", [("offline", False), ("paper", True)])
def test_dimensions_and_window_times(clips, backbones, random_init):
    emb = embed_video(clips["red_low"], backbones=backbones, random_init=random_init, batch_size=2)
    assert isinstance(emb, Embeddings) and emb.backbone_set == backbones
    di, da = BACKBONE_DIMS[backbones]
    assert emb.image.shape == (3, di) and emb.audio.shape == (3, da)
    assert emb.image.dtype == emb.audio.dtype == np.float32
    assert emb.times_s.tolist() == [0.0, 1.0, 2.0] and emb.times_s.dtype == np.float64
    assert emb.duration_s == pytest.approx(3.5, abs=0.05)
    assert emb.features().shape == (3, di + da) and emb.features().dtype == np.float32
    np.testing.assert_array_equal(emb.features()[:, :di], emb.image)
    assert np.isfinite(emb.features()).all()
    assert {"decode_wait", "image", "audio", "total"} <= set(emb.timings_s)


def test_same_file_gives_the_same_embeddings_twice(clips):
    first = embed_video(clips["long"], backbones="offline", batch_size=8)
    second = embed_video(clips["long"], backbones="offline", batch_size=8)
    np.testing.assert_array_equal(first.image, second.image)
    np.testing.assert_array_equal(first.audio, second.audio)
    assert len(first.image) == 12


def test_batching_does_not_change_the_embeddings(clips):
    # On the CPU: cuDNN's TF32 convolutions pick per-batch-size kernels that differ by ~3e-3 (test_cuda_matches_cpu).
    one = embed_video(clips["red_low"], backbones="offline", batch_size=1, device="cpu")
    many = embed_video(clips["red_low"], backbones="offline", batch_size=32, device="cpu")
    np.testing.assert_allclose(one.image, many.image, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(one.audio, many.audio, rtol=1e-5, atol=1e-5)


def test_embeddings_follow_picture_and_sound(clips):
    red, blue, high = (embed_video(clips[k], backbones="offline") for k in ("red_low", "blue_low", "red_high"))
    assert np.abs(red.image - blue.image).max() > 0.5
    np.testing.assert_allclose(red.audio, blue.audio, atol=1e-3)  # same tone
    assert np.abs(red.audio - high.audio).max() > 1.0
    np.testing.assert_allclose(red.image, high.image, atol=1e-3)  # same colour


def test_bgr_channel_order_swaps_red_and_blue(clips):
    red_as_bgr = embed_video(clips["red_low"], backbones="offline", channel_order="BGR")
    blue = embed_video(clips["blue_low"], backbones="offline")
    np.testing.assert_allclose(red_as_bgr.image, blue.image, atol=0.05)
    with pytest.raises(DetectorError, match="RGB or BGR"):
        embed_video(clips["red_low"], backbones="offline", channel_order="GBR")


def test_a_movie_without_sound_embeds_silence(clips):
    emb = embed_video(clips["silent"], backbones="offline")
    assert emb.audio.shape == (3, 128)
    np.testing.assert_allclose(emb.audio[:, :64], math.log(LOG_OFFSET), rtol=1e-6)
    np.testing.assert_allclose(emb.audio[:, 64:], 0.0, atol=1e-6)


def test_progress_is_reported_from_zero_to_total(clips):
    calls = []
    embed_video(clips["long"], backbones="offline", batch_size=5, progress=lambda d, t: calls.append((d, t)))
    assert calls[0] == (0, 12) and calls[-1] == (12, 12)
    assert {d for d, _ in calls} == {0, 5, 10, 12} and all(t == 12 for _, t in calls)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_an_exception_from_progress_cancels_the_work(clips):
    class Cancelled(Exception):
        pass

    def cancel_after_first_batch(done, total):
        if done >= 4:
            raise Cancelled()

    with pytest.raises(Cancelled):
        embed_video(clips["long"], backbones="offline", batch_size=4, progress=cancel_after_first_batch)
    deadline = time.monotonic() + 5
    while ffmpeg_children(clips["long"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ffmpeg_children(clips["long"]) == 0


def test_random_init_warns(clips):
    with pytest.warns(UserWarning, match="RANDOM weights"):
        embed_video(clips["red_low"], backbones="offline", random_init=True)


def test_auto_is_offline_without_the_paper_weights():
    assert resolve_backbone_set("auto") == "offline"
    assert resolve_backbone_set("paper") == "paper" and resolve_backbone_set("offline") == "offline"
    assert resolve_backbone_set("faces") == "faces"
    with pytest.raises(DetectorError, match="Unknown backbone set"):
        resolve_backbone_set("resnet")


def test_the_faces_set_sees_the_faces_and_hears_what_offline_hears(shared_media):
    path = shared_media / "notkiss_ava_film_talk_h264_mp3.mp4"
    faced = embed_video(path, backbones="faces")
    plain = embed_video(path, backbones="offline")
    assert faced.backbone_set == "faces" and faced.image.shape == plain.image.shape == (3, 1280)
    np.testing.assert_array_equal(faced.audio, plain.audio)
    assert np.abs(faced.image - plain.image).mean() > 0.05  # the same network on another view
    assert 0 < faced.timings_s["face_finding"] <= faced.timings_s["image"]


def test_the_faces_set_decodes_with_ffmpeg_where_nvdec_would_run(clips, monkeypatch):
    from detector import embed as embed_module
    from detector.decode import DecodeChoice

    monkeypatch.setattr(embed_module, "choose_backend",
                        lambda info, **kw: DecodeChoice("nvdec", "NVDEC reads h264 in mp4 on the GPU", decoders=2))
    emb = embed_video(clips["long"], backbones="faces", random_init=True)
    assert emb.decoding["backend"] == "ffmpeg"
    assert emb.decoding["reason"] == "fell back to ffmpeg: the faces set finds faces on CPU pictures"
    assert emb.image.shape == (12, 1280) and np.isfinite(emb.image).all()


def test_bad_files_raise_decode_errors(tmp_path):
    junk = tmp_path / "junk.mkv"
    junk.write_bytes(b"\x00" * 5000)
    with pytest.raises(DecodeError, match="junk.mkv"):
        embed_video(junk, backbones="offline")


def test_real_clip_with_non_square_pixels(shared_media):
    emb = embed_video(shared_media / "kiss_stock_1080sq_silentaac.mp4", backbones="offline")
    assert emb.image.shape == (10, 1280) and np.isfinite(emb.image).all()


def test_importing_detector_does_not_import_torch():
    code = "import detector, sys; detector.probe; detector.MediaInfo; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.gpu
def test_cuda_matches_cpu(clips):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    cpu = embed_video(clips["long"], backbones="offline", device="cpu")
    gpu = embed_video(clips["long"], backbones="offline", device="cuda")
    np.testing.assert_allclose(gpu.image, cpu.image, rtol=1e-2, atol=1e-2)
    np.testing.assert_allclose(gpu.audio, cpu.audio, rtol=1e-3, atol=1e-3)
    again = embed_video(clips["long"], backbones="offline", device="cuda")
    np.testing.assert_array_equal(gpu.image, again.image)
    one_by_one = embed_video(clips["long"], backbones="offline", device="cuda", batch_size=1)
    np.testing.assert_allclose(one_by_one.image, gpu.image, rtol=1e-2, atol=1e-2)


def test_bfloat16_stays_close_to_float32(clips):
    full = embed_video(clips["red_low"], backbones="paper", random_init=True, precision="float32")
    half = embed_video(clips["red_low"], backbones="paper", random_init=True, precision="bfloat16")
    assert (full.precision, half.precision) == ("float32", "bfloat16")
    for a, b in ((half.image, full.image), (half.audio, full.audio)):
        assert np.linalg.norm(a - b) / np.linalg.norm(b) < 0.02
    assert not np.array_equal(half.image, full.image)


def test_precision_choice(monkeypatch):
    from detector import embed

    monkeypatch.delenv("KISSWEB_EMBED_PRECISION", raising=False)
    monkeypatch.setattr(embed, "cpu_has_native_bf16", lambda: True)
    assert embed.resolve_precision("auto", backbone_set="paper", device_type="cpu") == "bfloat16"
    assert embed.resolve_precision("auto", backbone_set="offline", device_type="cpu") == "float32"
    assert embed.resolve_precision("auto", backbone_set="paper", device_type="cuda") == "float32"
    monkeypatch.setattr(embed, "cpu_has_native_bf16", lambda: False)
    assert embed.resolve_precision("auto", backbone_set="paper", device_type="cpu") == "float32"
    monkeypatch.setenv("KISSWEB_EMBED_PRECISION", "bfloat16")
    assert embed.resolve_precision("auto", backbone_set="offline", device_type="cpu") == "bfloat16"
    assert embed.resolve_precision("float32", backbone_set="offline", device_type="cpu") == "float32"
    with pytest.raises(DetectorError, match="precision"):
        embed.resolve_precision("float16", backbone_set="paper", device_type="cpu")


def test_a_movie_shorter_than_one_second_gives_empty_embeddings(tmp_path):
    path = make_video(tmp_path / "blink.mp4", duration_s=0.6, size="160x120")
    calls = []
    emb = embed_video(path, backbones="offline", progress=lambda d, t: calls.append((d, t)))
    assert emb.image.shape == (0, 1280) and emb.audio.shape == (0, 128) and emb.features().shape == (0, 1408)
    assert emb.times_s.shape == (0,) and calls == [(0, 0)]


def test_a_film_whose_audio_cannot_be_decoded_is_embedded_with_silence_and_a_warning(tmp_path):
    from tests.mediagen import make_corrupt_audio_video

    path = make_corrupt_audio_video(tmp_path / "broken.mp4", duration_s=3.0)
    emb = embed_video(path, backbones="offline", random_init=True, device="cpu")
    assert emb.image.shape[0] == 3 and "could not be decoded" in emb.audio_warning
    silence = np.concatenate([np.full(64, np.log(LOG_OFFSET)), np.zeros(64)]).astype(np.float32)
    np.testing.assert_allclose(emb.audio, np.tile(silence, (3, 1)), atol=1e-5)
    assert embed_video(make_video(tmp_path / "fine.mp4", duration_s=2.0), backbones="offline", random_init=True,
                       device="cpu").audio_warning == ""
