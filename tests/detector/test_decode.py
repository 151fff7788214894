"""Reading movies: exact window timing, codecs and containers, real clips, damaged files, hangs, stills."""

from __future__ import annotations

import io
import math
import os
import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from detector.constants import AUDIO_SAMPLE_RATE, FRAME_CROP, PATCH_SAMPLES
from detector.decode import (
    FFmpegProcess,
    audio_sample_range,
    extract_frame,
    frame_slot,
    iter_window_batches,
    probe,
    scaled_size,
    window_count,
)
from detector.errors import DecodeError
from tests.detector.media import ffmpeg_children
from tests.mediagen import ffmpeg, make_corrupt_audio_video, make_video

# --- a video whose frames carry their own index -------------------------------------------------------------
# 16 bits in a 4x4 grid of 48-pixel blocks inside the central 192x192 of a 256x256 frame (survives the crop).


def _index_pattern() -> str:
    bit = "(floor((X-32)/48)+4*floor((Y-32)/48))"
    inside = "between(X,32,223)*between(Y,32,223)"
    return f"geq=lum='if({inside},if(mod(floor(N/pow(2,{bit})),2),235,16),128)':cb=128:cr=128"


def read_index(frame: np.ndarray) -> int:
    grey = frame.astype(np.float32).mean(axis=-1)
    offset = (256 - FRAME_CROP) // 2
    n = 0
    for bit in range(16):
        cx = 32 + 48 * (bit % 4) + 24 - offset
        cy = 32 + 48 * (bit // 4) + 24 - offset
        n |= int(grey[cy - 8:cy + 8, cx - 8:cx + 8].mean() > 128) << bit
    return n


def make_indexed_video(path: Path, *, duration_s: float, setpts: str = "PTS", extra: tuple[str, ...] = ()) -> Path:
    ffmpeg(
        "-f", "lavfi", "-i", f"color=c=gray:size=256x256:rate=25:duration={duration_s}",
        "-vf", f"format=yuv420p,{_index_pattern()},setpts={setpts}", "-fps_mode", "passthrough",
        "-c:v", "libx264", "-preset", "ultrafast", "-crf", "12", "-pix_fmt", "yuv420p", *extra, str(path),
    )
    return path


def frame_times(path: Path) -> list[Fraction]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [Fraction(frame.pts) * stream.time_base for frame in container.decode(stream)]


def decoded(path: Path, **kwargs) -> tuple[np.ndarray, np.ndarray]:
    batches = list(iter_window_batches(path, **kwargs))
    if not batches:
        return np.zeros((0, FRAME_CROP, FRAME_CROP, 3), np.uint8), np.zeros((0, PATCH_SAMPLES), np.float32)
    return np.concatenate([b.frames for b in batches]), np.concatenate([b.audio for b in batches])


def expected_indices(times: list[Fraction], n: int) -> list[int]:
    """By definition: window k shows the last frame whose time is < k + 1 (the first frame if none is)."""
    expected = []
    for k in range(n):
        before = [i for i, t in enumerate(times) if t < k + 1]
        expected.append(before[-1] if before else 0)
    return expected


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("decode")


def test_window_k_shows_the_last_frame_before_k_plus_1(media):
    path = make_indexed_video(media / "cfr.mp4", duration_s=6)
    frames, _ = decoded(path, batch_size=4)
    times = frame_times(path)
    assert len(frames) == 6
    assert [read_index(f) for f in frames] == expected_indices(times, 6) == [24, 49, 74, 99, 124, 149]


def test_variable_frame_rate_windows_follow_timestamps_not_frame_counts(media):
    # 25 fps, then slower, with jitter: frame counts and timestamps disagree; frames land exactly on k + 1.
    setpts = "'(N*0.04+if(gte(N,60),(N-60)*0.033,0)+0.011*mod(N,3))/TB'"
    path = make_indexed_video(media / "vfr.mkv", duration_s=6, setpts=setpts)
    info = probe(path)
    frames, _ = decoded(path)
    times = frame_times(path)
    assert any(t == int(t) and t > 0 for t in times)  # the "< k + 1" edge is exercised
    assert len(frames) == window_count(info.duration_s)
    assert [read_index(f) for f in frames] == expected_indices(times, len(frames))


def test_fast_h264_decoding_picks_at_most_two_frames_early_and_exact_mode_none(media):
    # x264's default B-frames include non-reference frames, which the fast mode does not decode
    path = make_indexed_video(media / "bframes.mp4", duration_s=8, extra=("-preset:v", "medium", "-bf", "3"))
    expected = expected_indices(frame_times(path), 8)
    exact, _ = decoded(path, fast=False)
    assert [read_index(f) for f in exact] == expected
    fast, _ = decoded(path, fast=True)
    early = [e - read_index(f) for e, f in zip(expected, fast)]
    assert all(0 <= d <= 2 for d in early) and any(early)


def test_video_starting_late_holds_its_first_frame_and_keeps_the_timeline(media):
    video = make_indexed_video(media / "plain4.mp4", duration_s=4)
    late = media / "late.mkv"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=500:sample_rate=16000:duration=4.2", "-itsoffset", "1.5", "-i",
           str(video), "-map", "1:v", "-map", "0:a", "-c:v", "copy", "-c:a", "libopus", str(late))
    frames, audio = decoded(late)
    info = probe(late)
    assert len(frames) == window_count(info.duration_s) >= 5
    # the frame at 1.5 + 0.96 = 2.46 s is index 24; window 1 ([1, 2)) shows frame 12 (1.98 s)
    assert read_index(frames[0]) == 0
    assert read_index(frames[1]) == 12
    assert read_index(frames[2]) == 37
    assert np.abs(audio[0]).max() > 0.1  # lavfi sine amplitude is 1/8


def test_three_hour_timestamps_stay_exact_without_float_steps():
    n = window_count(3 * 3600.0)
    assert n == 10_800
    assert window_count(10_799.9999999) == 10_800  # whole microseconds decide, not float noise
    assert window_count(10_799.999) == 10_799
    first, end = audio_sample_range(n - 1)
    assert (first, end) == (10_800 * AUDIO_SAMPLE_RATE - PATCH_SAMPLES, 10_800 * AUDIO_SAMPLE_RATE)
    assert end - first == PATCH_SAMPLES
    # NTSC 29.97 fps in a 1/30000 time base over three hours: the slot of each frame is floor(time) exactly,
    # while the published floor(fps * 0.96) frame step has drifted by minutes.
    tb = Fraction(1, 30_000)
    last_frame = (10_800 * 30_000 - 1) // 1001
    assert frame_slot(last_frame * 1001, tb) == 10_799
    assert frame_slot((last_frame + 1) * 1001, tb) == 10_800
    for k in (0, 1, 3599, 7199, 10_799):
        last_before = -(-(k + 1) * 30_000 // 1001) - 1  # largest i with i * 1001 / 30000 < k + 1
        assert frame_slot(last_before * 1001, tb) == k
        assert frame_slot((last_before + 1) * 1001, tb) == k + 1
    published_step = math.floor(29.97 * 0.96)  # 28 frames per "second"
    assert abs(10_800 * published_step / 29.97 - 10_800) > 300


@pytest.mark.slow
def test_sparse_three_hour_video_picks_frames_at_the_end_exactly(media):
    # five frames spread over three hours: windows near 10,800 s must pick by timestamp
    times = ["0", "10798.98", "10799", "10799.5", "10800.2"]
    expr = "+".join(f"eq(N,{i})*{t}" for i, t in enumerate(times))
    path = make_indexed_video(media / "sparse.mkv", duration_s=0.2, setpts=f"'({expr})/TB'")
    info = probe(path)
    assert window_count(info.duration_s) == 10_800
    got = {}
    for batch in iter_window_batches(path, batch_size=512, info=info):
        for j in (0, len(batch) - 1):
            got[batch.start + j] = read_index(batch.frames[j])
        if batch.start <= 10_798 < batch.start + len(batch):
            got[10_797] = read_index(batch.frames[10_797 - batch.start])
            got[10_798] = read_index(batch.frames[10_798 - batch.start])
    assert got[0] == 0 and got[10_797] == 0
    assert got[10_798] == 1  # 10798.98 < 10799; the frame at exactly 10799 belongs to the next window
    assert got[10_799] == 3


def test_a_movie_without_audio_gets_silence(shared_media):
    path = shared_media / "kiss_hmdb51_tv_224px_silent.mp4"
    info = probe(path)
    assert not info.has_audio
    frames, audio = decoded(path)
    assert frames.shape == (2, FRAME_CROP, FRAME_CROP, 3)
    assert audio.shape == (2, PATCH_SAMPLES) and not audio.any()
    assert frames.std() > 5


def test_audio_patch_is_the_sound_ending_at_k_plus_1(media):
    # silence for 3 s, then a tone: window 2's patch ([2.025, 3.0) s) is silent, window 3's is not
    path = media / "tone_at_3s.wav.mkv"
    ffmpeg("-f", "lavfi", "-i", "color=c=blue:size=64x64:rate=10:duration=6", "-f", "lavfi", "-i",
           "aevalsrc='if(gte(t,3),0.5*sin(2*PI*1000*t),0)':s=48000:d=6", "-c:v", "libx264", "-preset",
           "ultrafast", "-c:a", "flac", str(path))
    _, audio = decoded(path)
    energy = np.abs(audio).max(axis=1)
    assert energy[:2].max() == 0
    assert np.abs(audio[2][:-60]).max() < 1e-4  # only the resampler's pre-ringing reaches before 3.0 s
    assert energy[2] < 0.01
    assert energy[3:].min() > 0.4
    # the tone starts exactly at sample 48,000 of the 16 kHz stream: window 3's patch is all tone
    assert np.abs(audio[3][:200]).max() > 0.3


MATRIX = {
    "mpeg4_mp3.avi": dict(vcodec="mpeg4", acodec="libmp3lame"),
    "vp8_opus.webm": dict(vcodec="libvpx", acodec="libopus"),
    "vp8_vorbis.webm": dict(vcodec="libvpx", acodec="libvorbis"),
    "h264_aac.mkv": dict(),
    "h264_aac.mov": dict(),
    "odd_321x239.mp4": dict(size="321x239", extra=("-pix_fmt", "yuv444p")),
    "surround51.mp4": dict(audio="sine=frequency=440:sample_rate=48000", extra=("-ac", "6")),
    "h264_30000_1001.mp4": dict(fps=30, extra=("-r", "30000/1001")),
}


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_codec_and_container_matrix(media, name):
    spec = dict(MATRIX[name])
    size = spec.pop("size", "160x120")
    path = make_video(media / name, duration_s=3.4, size=size, **spec)
    info = probe(path)
    assert info.has_audio and info.duration_s >= 3.0
    frames, audio = decoded(path, batch_size=2)
    assert frames.shape == (3, FRAME_CROP, FRAME_CROP, 3) and frames.dtype == np.uint8
    assert audio.shape == (3, PATCH_SAMPLES) and audio.dtype == np.float32
    assert frames.std() > 10  # testsrc2 content, not a blank frame
    assert 0.05 < np.abs(audio[1]).max() <= 1.0  # the tone (amplitude 1/8) survives the mono downmix


def test_rotation_metadata_is_applied(media):
    # left half white, right half black; displayed rotated by 90 degrees the split becomes horizontal
    plain = media / "halves.mp4"
    ffmpeg("-f", "lavfi", "-i", "color=c=black:size=320x160:rate=10:duration=2",
           "-vf", "drawbox=x=0:y=0:w=160:h=160:color=white:t=fill", "-c:v", "libx264", "-preset", "ultrafast",
           "-pix_fmt", "yuv420p", str(plain))
    rotated = media / "rotated.mp4"
    ffmpeg("-display_rotation", "90", "-i", str(plain), "-c", "copy", str(rotated))
    info = probe(rotated)
    assert (info.width, info.height, info.rotation_deg in (90, 270)) == (160, 320, True)
    frame = decoded(rotated)[0][0].astype(np.float32).mean(axis=-1)
    top, bottom = frame[:100].mean(), frame[-100:].mean()
    left, right = frame[:, :100].mean(), frame[:, -100:].mean()
    assert abs(top - bottom) > 150 and abs(left - right) < 30
    upright = decoded(plain)[0][0].astype(np.float32).mean(axis=-1)
    assert abs(upright[:, :100].mean() - upright[:, -100:].mean()) > 150


REAL_CLIPS = {
    "kiss_hmdb51_tv_224px_silent.mp4": (2, False),
    "kiss_stock_1080sq_silentaac.mp4": (10, False),
    "notkiss_ava_film_talk_h264_mp3.mp4": (3, True),
    "notkiss_film_walk_vp8_vorbis.webm": (14, True),
    "notkiss_tvhi_handshake_xvid_mp3.avi": (2, True),
}


@pytest.mark.parametrize("name", sorted(REAL_CLIPS))
def test_real_clips(shared_media, name):
    windows, audible = REAL_CLIPS[name]
    frames, audio = decoded(shared_media / name)
    assert frames.shape == (windows, FRAME_CROP, FRAME_CROP, 3)
    assert audio.shape == (windows, PATCH_SAMPLES)
    assert (np.abs(audio).max() > 0.01) == audible
    assert frames.reshape(windows, -1).std(axis=1).min() > 5


def test_whole_frame_is_the_scaled_picture_whose_centre_is_the_crop(media):
    path = make_video(media / "wide.mp4", duration_s=3, size="640x360")
    whole, whole_audio = decoded(path, whole_frame=True)
    cropped, audio = decoded(path)
    width, height = scaled_size(probe(path))
    assert whole.shape == (3, height, width, 3) == (3, 256, 456, 3)
    top, left = (height - FRAME_CROP) // 2, (width - FRAME_CROP) // 2
    np.testing.assert_array_equal(whole[:, top:top + FRAME_CROP, left:left + FRAME_CROP], cropped)
    np.testing.assert_array_equal(whole_audio, audio)


def test_non_square_pixels_are_shown_at_their_display_aspect(shared_media):
    info = probe(shared_media / "kiss_stock_1080sq_silentaac.mp4")
    assert info.pixel_aspect < 1 and (info.width, info.height) == (round(1080 * info.pixel_aspect), 1080)


def test_random_bytes_are_a_decode_error(media):
    path = media / "noise.mp4"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 200_000, dtype=np.uint8).tobytes())
    with pytest.raises(DecodeError, match="noise.mp4"):
        probe(path)


def test_missing_empty_and_text_files_are_decode_errors(media):
    with pytest.raises(DecodeError, match="no such file"):
        probe(media / "absent.mp4")
    (media / "empty.mp4").write_bytes(b"")
    with pytest.raises(DecodeError, match="empty"):
        probe(media / "empty.mp4")
    (media / "notes.mp4").write_text("not a movie\n" * 100)
    with pytest.raises(DecodeError, match="notes.mp4"):
        probe(media / "notes.mp4")


def test_audio_only_file_is_a_decode_error(media):
    path = media / "sound.m4a"
    ffmpeg("-f", "lavfi", "-i", "sine=duration=2", "-c:a", "aac", str(path))
    with pytest.raises(DecodeError, match="no video stream"):
        probe(path)


def test_truncated_mp4_is_a_decode_error(media):
    whole = make_video(media / "whole.mp4", duration_s=6)
    cut = media / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])  # moov at the end is lost
    with pytest.raises(DecodeError, match="cut.mp4"):
        probe(cut)


def test_truncated_faststart_mp4_raises_while_streaming(media):
    whole = make_video(media / "faststart.mp4", duration_s=12, size="320x240", extra=("-movflags", "+faststart"))
    cut = media / "faststart_cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size * 2 // 5])
    info = probe(cut)  # the index is intact, the data is not
    assert window_count(info.duration_s) == 12
    with pytest.raises(DecodeError, match="truncated"):
        decoded(cut, info=info)


def test_a_stalled_ffmpeg_is_killed_by_the_watchdog(tmp_path):
    fifo = tmp_path / "never.mp4"
    os.mkfifo(fifo)
    with pytest.raises(DecodeError, match="not a regular file"):
        probe(fifo)  # probing refuses pipes outright
    started = time.monotonic()
    proc = FFmpegProcess(["-i", str(fifo), "-f", "null", "-"], path=fifo, what="decode", timeout_s=60, stall_s=1.0)
    try:
        with pytest.raises(DecodeError, match="stalled"):
            proc.read_into(memoryview(bytearray(1024)))
        assert time.monotonic() - started < 10
        proc.proc.wait(timeout=5)  # killed, not left behind
    finally:
        proc.close()


def test_an_overall_timeout_kills_ffmpeg(media):
    path = make_video(media / "slow.mp4", duration_s=2)
    args = ["-re", "-stream_loop", "-1", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
    proc = FFmpegProcess(args, path=path, what="decode", timeout_s=1.0, stall_s=30)
    try:
        buffer = memoryview(bytearray(1 << 16))
        with pytest.raises(DecodeError, match="timeout"):
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                proc.read_into(buffer)
        assert proc.proc.wait(timeout=5) != 0  # killed
    finally:
        proc.close()


def test_stopping_early_kills_the_decoders(media):
    path = make_video(media / "long.mp4", duration_s=20, size="160x120")
    batches = iter_window_batches(path, batch_size=2)
    first = next(batches)
    assert first.start == 0 and ffmpeg_children(path) == 2
    batches.close()
    deadline = time.monotonic() + 5
    while ffmpeg_children(path) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ffmpeg_children(path) == 0
    assert threading.active_count() < 10


def test_memory_per_batch_is_bounded(media):
    path = make_video(media / "bounded.mp4", duration_s=9, size="160x120")
    sizes = [b.frames.nbytes + b.audio.nbytes for b in iter_window_batches(path, batch_size=4)]
    assert max(sizes) == 4 * (FRAME_CROP * FRAME_CROP * 3 + PATCH_SAMPLES * 4)


def test_probe_reports_the_facts(small_video):
    info = probe(small_video)
    assert (info.width, info.height, info.has_audio) == (320, 240, True)
    assert info.duration_s == pytest.approx(4.0, abs=0.05)
    assert (info.container, info.video_codec, info.audio_codec) == ("mp4", "h264", "aac")
    assert info.fps == pytest.approx(25)


def test_extract_frame_gives_a_jpeg_of_the_asked_width(small_video):
    from PIL import Image

    jpeg = extract_frame(small_video, at_s=1.5, width=160)
    image = Image.open(io.BytesIO(jpeg))
    assert image.format == "JPEG" and image.size == (160, 120)
    other = extract_frame(small_video, at_s=3.0, width=160)
    assert other != jpeg  # testsrc2 changes over time


def test_extract_frame_keeps_the_display_aspect(shared_media):
    from PIL import Image

    jpeg = extract_frame(shared_media / "kiss_stock_1080sq_silentaac.mp4", at_s=2, width=200)
    assert Image.open(io.BytesIO(jpeg)).size == (200, 268)


def test_extract_frame_past_the_end_is_a_decode_error(small_video):
    with pytest.raises(DecodeError, match="no frame at 60 s; the movie lasts 4"):
        extract_frame(small_video, at_s=60)
    with pytest.raises(DecodeError, match="0 or more"):
        extract_frame(small_video, at_s=-1)


def test_webm_without_a_duration_in_its_header(media):
    # a live-muxed webm (as browsers' MediaRecorder write) has no duration: probe reads packet times instead
    path = media / "live.webm"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=3.5", "-f", "lavfi", "-i",
           "sine=frequency=440:sample_rate=48000:duration=3.5", "-c:v", "libvpx", "-c:a", "libopus",
           "-live", "1", "-f", "webm", str(path))
    with av.open(str(path)) as container:
        assert container.duration is None
    info = probe(path)
    assert info.duration_s == pytest.approx(3.5, abs=0.1)
    frames, audio = decoded(path)
    assert len(frames) == 3 and np.abs(audio).max() > 0.05


def test_a_movie_shorter_than_one_second_has_no_windows(media):
    path = make_video(media / "blink.mp4", duration_s=0.6)
    assert window_count(probe(path).duration_s) == 0
    frames, audio = decoded(path)
    assert frames.shape == (0, FRAME_CROP, FRAME_CROP, 3) and audio.shape == (0, PATCH_SAMPLES)


def test_audio_starting_late_is_placed_on_the_timeline(media):
    video = make_video(media / "mute4.mp4", duration_s=4, size="160x120", audio=None)
    late = media / "late_audio.mkv"
    ffmpeg("-i", str(video), "-itsoffset", "1.5", "-f", "lavfi", "-i",
           "sine=frequency=700:sample_rate=44100:duration=2.5", "-map", "0:v", "-map", "1:a", "-c:v", "copy",
           "-c:a", "flac", str(late))
    _, audio = decoded(late)
    assert len(audio) == 4
    energy = np.abs(audio).max(axis=1)
    assert energy[0] == 0  # [0.025, 1.0) s: before the sound
    # window 1's patch is samples [16400, 32000); the tone starts at 1.5 s = sample 24000 = patch index 7600
    onset = 24_000 - audio_sample_range(1)[0]
    assert np.abs(audio[1][: onset - 50]).max() < 1e-3
    assert np.abs(audio[1][onset + 50:]).max() > 0.1
    assert energy[2] > 0.1 and energy[3] > 0.1


def test_frames_are_rgb(media):
    from tests.mediagen import make_colour_video

    path = make_colour_video(media / "red.mp4", colour="red", tone_hz=440, duration_s=2)
    frame = decoded(path)[0][0].reshape(-1, 3).mean(axis=0)
    assert frame[0] > 200 and frame[1] < 40 and frame[2] < 40


def test_mpegts_timestamps_start_at_the_container_start(media):
    path = make_indexed_video(media / "broadcast.ts", duration_s=5, extra=("-f", "mpegts"))
    with av.open(str(path)) as container:
        assert container.start_time > 0  # MPEG-TS starts at 1.4 s
    info = probe(path)
    assert info.video_end_s == pytest.approx(info.duration_s, abs=0.05)
    frames, _ = decoded(path)
    times = frame_times(path)
    assert [read_index(f) for f in frames] == expected_indices([t - min(times) for t in times], 5)


def test_audio_that_cannot_be_decoded_becomes_silence_with_a_warning(tmp_path):
    path = make_corrupt_audio_video(tmp_path / "broken-audio.mp4", duration_s=4.0)
    info = probe(path)
    assert info.has_audio and info.audio_codec == "aac"
    batches = list(iter_window_batches(path, batch_size=2))
    assert sum(len(b) for b in batches) == 4
    assert all(not b.audio.any() for b in batches)
    warning = batches[-1].audio_warning
    assert warning.startswith("The audio track could not be decoded") and "silence instead" in warning
    assert str(tmp_path) not in warning and "broken-audio" not in warning and "0x" not in warning


def test_audio_with_an_undecodable_stretch_keeps_the_rest_and_says_so(tmp_path):
    path = make_corrupt_audio_video(tmp_path / "patchy.mp4", duration_s=5.0, corrupt_from_s=2.0, corrupt_to_s=3.0)
    batches = list(iter_window_batches(path, batch_size=5))
    loudness = np.abs(batches[0].audio).max(axis=1)
    assert loudness[2] == 0.0 and (loudness[[0, 1, 3, 4]] > 0.05).all()
    assert batches[-1].audio_warning.startswith("Parts of the audio track could not be decoded")
    clean = list(iter_window_batches(make_video(tmp_path / "clean.mp4", duration_s=3.0), batch_size=2))
    assert all(b.audio_warning == "" for b in clean)
