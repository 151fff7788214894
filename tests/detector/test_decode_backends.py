"""The decode backend registry (CPU side): backend choice and fallback, K-range splits, frame numbers, the record."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import numpy as np
import pytest

from detector.decode import (
    BACKENDS,
    DecodeChoice,
    MediaInfo,
    choose_backend,
    iter_window_batches,
    nvdec_refusal,
    probe,
    split_windows,
    window_frame_indices,
)
from detector.decode import backends
from detector.errors import DetectorError
from tests.detector.test_decode import expected_indices, frame_times, make_indexed_video, read_index
from tests.mediagen import make_video

H264_MP4 = MediaInfo(duration_s=120.0, width=1280, height=720, fps=25.0, has_audio=True, container="mp4",
                     video_codec="h264", audio_codec="aac")


@pytest.fixture
def nvdec_installed(monkeypatch):
    monkeypatch.setitem(BACKENDS, "nvdec", dataclasses.replace(BACKENDS["nvdec"], unavailable=lambda: ""))
    monkeypatch.delenv("KISSWEB_DECODER", raising=False)
    monkeypatch.delenv("KISSWEB_NVDEC_DECODERS", raising=False)


def test_registry_names_both_backends_and_where_their_pictures_land():
    assert {name: b.frames_on for name, b in BACKENDS.items()} == {"ffmpeg": "cpu", "nvdec": "cuda"}
    assert BACKENDS["ffmpeg"].unavailable() == "" and BACKENDS["ffmpeg"].refusal(H264_MP4) == ""


@pytest.mark.parametrize(("n", "parts", "align"), [
    (0, 4, 32), (1, 4, 32), (31, 4, 32), (32, 4, 32), (100, 4, 32), (7200, 4, 32), (7201, 3, 64), (1000, 8, 1),
    (10, 16, 1),
])
def test_k_ranges_cover_every_window_once_in_order_on_whole_batches(n, parts, align):
    ranges = split_windows(n, parts, align=align)
    assert [k for r in ranges for k in r] == list(range(n))
    assert len(ranges) <= parts and all(len(r) > 0 for r in ranges)
    assert all(r.start % align == 0 for r in ranges)
    if n >= parts * align:
        assert len(ranges) == parts
        sizes = [len(r) for r in ranges[:-1]]
        assert max(sizes) - min(sizes) <= align  # balanced to within one batch


@pytest.mark.parametrize("parts", [1, 2, 3, 4, 8])
@pytest.mark.parametrize("fps", [25.0, 24000 / 1001, 30000 / 1001, 59.94005994005994, 12.5, 0.5])
def test_k_range_split_gives_the_frames_of_a_single_pass(parts, fps):
    n, count = 500, int(500 * fps) - 3  # the video stops a little before the film: its last frame is held
    single = window_frame_indices(range(n), fps=fps, frame_count=count, per_window=2)
    split = [i for r in split_windows(n, parts, align=32)
             for i in window_frame_indices(r, fps=fps, frame_count=count, per_window=2)]
    assert split == single


@pytest.mark.parametrize("start_s", [0.0, 0.021333, 0.5])
@pytest.mark.parametrize("fps", [25.0, 24000 / 1001, 30000 / 1001, 23.976, 7.0])
def test_frame_numbers_are_the_last_frame_before_each_window_end(fps, start_s):
    rate = backends.frame_rate(fps)
    start = Fraction(round(start_s * 1_000_000), 1_000_000)
    times = [start + Fraction(i) / rate for i in range(int(60 * fps))]
    assert window_frame_indices(range(60), fps=fps, frame_count=len(times), start_s=start_s) == expected_indices(
        times, 60)
    # m pictures per window: the last frames before k + 1/m, ..., k + 1
    three = window_frame_indices(range(5), fps=fps, frame_count=len(times), per_window=3, start_s=start_s)
    for k in range(5):
        for j in range(3):
            edge = k + Fraction(j + 1, 3)
            assert three[3 * k + j] == max([0] + [i for i, t in enumerate(times) if t < edge])


def test_frame_numbers_agree_with_the_ffmpeg_path_on_a_real_file(tmp_path):
    path = make_indexed_video(tmp_path / "cfr.mp4", duration_s=6)
    info = probe(path)
    frames = np.concatenate([b.frames for b in iter_window_batches(path, info=info, fast=False)])
    count = len(frame_times(path))
    assert nvdec_refusal(info) == "" and len(frames) == info.window_count
    assert [read_index(f) for f in frames] == window_frame_indices(
        range(info.window_count), fps=info.grid_fps, frame_count=count, start_s=info.video_start_s)


def test_several_pictures_per_window_on_the_ffmpeg_path(tmp_path):
    path = make_indexed_video(tmp_path / "cfr.mp4", duration_s=4)
    info = probe(path)
    batches = list(iter_window_batches(path, info=info, fast=False, per_window=2, batch_size=3))
    frames = np.concatenate([b.frames for b in batches])
    n = info.window_count
    assert frames.shape == (n, 2, 224, 224, 3) and n >= 3
    got = [read_index(f) for window in frames for f in window]
    assert got == window_frame_indices(range(n), fps=info.grid_fps, frame_count=len(frame_times(path)), per_window=2)


def test_audio_only_pass_gives_the_same_sound_without_pictures(tmp_path):
    path = make_video(tmp_path / "av.mp4", duration_s=3.0)
    both = list(iter_window_batches(path))
    sound = list(iter_window_batches(path, video=False))
    assert [b.frames.shape for b in sound] == [(3, 0)]
    np.testing.assert_array_equal(np.concatenate([b.audio for b in sound]), np.concatenate([b.audio for b in both]))


def test_cpu_networks_decode_with_ffmpeg(nvdec_installed):
    choice = choose_backend(H264_MP4, device_type="cpu")
    assert choice == DecodeChoice("ffmpeg", "the networks run on the CPU")
    assert "asked for" in choose_backend(H264_MP4, device_type="cpu", requested="nvdec").reason


def test_cuda_with_pynvvideocodec_picks_nvdec_with_k_decoders(nvdec_installed, monkeypatch):
    choice = choose_backend(H264_MP4, device_type="cuda")
    assert (choice.backend, choice.decoders) == ("nvdec", 4) and "h264 in mp4" in choice.reason
    monkeypatch.setenv("KISSWEB_NVDEC_DECODERS", "2")
    assert choose_backend(H264_MP4, device_type="cuda").decoders == 2
    assert choose_backend(H264_MP4, device_type="cuda", decoders=6).decoders == 6
    assert choose_backend(H264_MP4, device_type="cuda", requested="ffmpeg").backend == "ffmpeg"
    monkeypatch.setenv("KISSWEB_DECODER", "ffmpeg")
    assert choose_backend(H264_MP4, device_type="cuda").backend == "ffmpeg"


def test_without_pynvvideocodec_cuda_hosts_fall_back(monkeypatch):
    monkeypatch.delenv("KISSWEB_DECODER", raising=False)
    monkeypatch.setitem(BACKENDS, "nvdec", dataclasses.replace(BACKENDS["nvdec"], unavailable=lambda: "no module"))
    choice = choose_backend(H264_MP4, device_type="cuda")
    assert choice.backend == "ffmpeg" and choice.reason == "fell back to ffmpeg: no module"


@pytest.mark.parametrize(("change", "why"), [
    ({"video_codec": "mpeg4"}, "does not decode mpeg4"),
    ({"video_codec": "vp8"}, "does not decode vp8"),
    ({"container": "mpegts"}, "mpegts container"),
    ({"rotation_deg": 90}, "rotated by 90"),
    ({"pixel_aspect": 4 / 3}, "not square"),
    ({"fps": None}, "frame rate is unknown"),
    ({"constant_frame_rate": False}, "frame rate varies"),
    ({"video_start_s": -0.5}, "starts -0.500 s"),
    ({"width": 32}, "smaller than 64"),
])
def test_films_nvdec_would_not_read_like_ffmpeg_fall_back_with_the_reason(nvdec_installed, change, why):
    choice = choose_backend(dataclasses.replace(H264_MP4, **change), device_type="cuda", requested="nvdec")
    assert choice.backend == "ffmpeg" and why in choice.reason and choice.reason.startswith("fell back to ffmpeg")


def test_refusal_of_real_files(tmp_path):
    mpeg4 = probe(make_video(tmp_path / "part2.mp4", duration_s=2, vcodec="mpeg4"))
    vp8 = probe(make_video(tmp_path / "vp8.webm", duration_s=2, vcodec="libvpx", acodec="libvorbis"))
    vfr = probe(make_indexed_video(tmp_path / "vfr.mkv", duration_s=4,
                                   setpts="'(N*0.04+if(gte(N,60),(N-60)*0.033,0)+0.011*mod(N,3))/TB'"))
    assert "mpeg4" in nvdec_refusal(mpeg4) and "vp8" in nvdec_refusal(vp8)
    assert "varies" in nvdec_refusal(vfr)


def test_bad_decoder_settings_say_what_to_choose(monkeypatch):
    monkeypatch.setenv("KISSWEB_DECODER", "vdpau")
    with pytest.raises(DetectorError, match="auto, ffmpeg, nvdec"):
        choose_backend(H264_MP4, device_type="cuda")
    monkeypatch.setenv("KISSWEB_DECODER", "auto")
    monkeypatch.setenv("KISSWEB_NVDEC_DECODERS", "many")
    monkeypatch.setattr(backends, "nvdec_unavailable", lambda: "")
    with pytest.raises(DetectorError, match="whole number"):
        backends.decoders_per_film()
    with pytest.raises(DetectorError, match="1 to 32"):
        backends.decoders_per_film(0)


def test_the_run_records_the_path_and_an_nvdec_failure_falls_back(tmp_path, monkeypatch):
    from detector import embed as embed_module
    from detector import embed_gpu
    from detector.api import detect
    from detector.decode.nvdec import NvdecError
    from detector.head import SceneModel

    path = make_video(tmp_path / "clip.mp4", duration_s=3.0, size="320x240")
    plain = embed_module.embed_video(path, backbones="paper", random_init=True, device="cpu")
    assert plain.decoding == {"backend": "ffmpeg", "decoders": 1, "reason": "the networks run on the CPU"}

    def broken(*args, **kwargs):
        raise NvdecError("NVDEC could not open the video (RuntimeError: no decoder)")

    monkeypatch.setattr(embed_module, "choose_backend",
                        lambda info, **kw: DecodeChoice("nvdec", "NVDEC reads h264 in mp4 on the GPU", decoders=2))
    monkeypatch.setattr(embed_gpu, "embed_nvdec", broken)
    fallen = embed_module.embed_video(path, backbones="paper", random_init=True, device="cpu")
    assert fallen.decoding["backend"] == "ffmpeg"
    assert fallen.decoding["reason"] == "fell back to ffmpeg: NVDEC could not open the video (RuntimeError: no decoder)"
    np.testing.assert_array_equal(fallen.image, plain.image)
    np.testing.assert_array_equal(fallen.audio, plain.audio)

    dims = fallen.features().shape[1]
    model = SceneModel(weight=np.zeros((2, dims), np.float32), bias=np.zeros(2, np.float32),
                       card={"backbone_set": "paper", "training": {"random_init_backbones": True}})
    result = detect(path, model=model, device="cpu").to_json()
    assert result["decoding"]["backend"] == "ffmpeg" and "fell back" in result["decoding"]["reason"]
