"""Reading movies: probing, stills, and one streaming pass that yields 1-second windows.

Window k covers [k, k + 1) s of the file's timeline (ffmpeg's, which starts at the container's start time).
Its picture is the last frame whose timestamp is < k + 1: ffmpeg's ``fps=1:round=down`` filter maps a frame
at t to slot floor(t) and emits, for slot k, the last frame mapped to a slot <= k, so the choice is made on
integer timestamps inside ffmpeg and never drifts. Its sound is the last PATCH_SAMPLES (0.975 s) of
samples [16000 k, 16000 (k + 1)) of a mono 16 kHz stream whose first sample is at time 0 (aresample pads or
trims to timestamps), so audio positions are sample counts, never accumulated float steps.

Every ffmpeg process has an overall timeout and a stall watchdog and is killed on error or cancellation.
"""

from __future__ import annotations

import collections
import math
import os
import queue
import re
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from detector.constants import (
    AUDIO_SAMPLE_RATE,
    FRAME_CROP,
    FRAME_SHORT_SIDE,
    PATCH_SAMPLES,
    SAMPLES_PER_WINDOW,
)
from detector.errors import DecodeError

DEFAULT_STALL_S = 60.0
# H.264 decoder options that skip work a 224-pixel picture per second does not need (bench/RESULTS-embed.md):
# without the deblocking filter pixels move by < 1/255 on average; without non-reference frames the picture of
# window k is the last *reference* frame before k + 1, which is the last frame or one or two frames earlier
# (<= 80 ms at 25 fps; the frame itself is decoded exactly). fast=False keeps every frame: the exact definition.
FAST_H264_OPTIONS = ("-skip_loop_filter", "all", "-skip_frame", "noref")
_QUEUE_BATCHES = 2


@dataclass(frozen=True)
class MediaInfo:
    """What a movie file holds. width/height are the displayed size (rotation and pixel aspect applied)."""

    duration_s: float
    width: int
    height: int
    fps: float | None
    has_audio: bool
    container: str
    video_codec: str
    audio_codec: str | None
    rotation_deg: int = 0
    pixel_aspect: float = 1.0
    video_end_s: float | None = None
    color_matrix: str = "bt601"  # YUV -> RGB as ffmpeg's scaler does it: bt709 where the stream says so, else bt601
    full_range: bool = False  # JPEG-range YUV (0-255) rather than the usual 16-235
    constant_frame_rate: bool = True  # frame i is shown at video_start_s + i / grid_fps (checked on the first frames)
    video_start_s: float = 0.0  # where the video's first frame sits on the file's timeline
    grid_fps: float | None = None  # the rate of that grid (the stream's base rate); None where it is not constant

    @property
    def window_count(self) -> int:
        return window_count(self.duration_s)


@dataclass(frozen=True)
class WindowBatch:
    """Consecutive windows start, start + 1, ...: RGB frames (b, 224, 224, 3) uint8 and audio (b, 15600) float32.

    audio_warning: non-empty once the audio reader has met a track it cannot decode (from then on it gives silence).
    """

    start: int
    frames: np.ndarray
    audio: np.ndarray
    audio_warning: str = ""

    def __len__(self) -> int:
        return len(self.frames)


def put_until_stopped(target: queue.Queue, item, stop: threading.Event) -> bool:
    """Hand `item` to a bounded queue, waiting while it is full; False (item dropped) once `stop` is set, so a
    decoding thread never blocks forever on a consumer that went away."""
    while not stop.is_set():
        try:
            target.put(item, timeout=0.2)
            return True
        except queue.Full:
            continue
    return False


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def window_count(duration_s: float) -> int:
    """floor(duration) on whole microseconds, so 10.0 s read back as 9.9999999 still gives 10 windows."""
    return max(0, int(round(duration_s * 1_000_000)) // 1_000_000)


def audio_sample_range(k: int) -> tuple[int, int]:
    """Sample indices [first, end) at 16 kHz of window k's audio patch: the 15,600 samples ending at k + 1."""
    end = (k + 1) * SAMPLES_PER_WINDOW
    return end - PATCH_SAMPLES, end


def frame_slot(pts: int, time_base: Fraction) -> int:
    """The window a frame at pts * time_base closes: it is the last-shown frame of window k only if k = floor(t)."""
    t = pts * time_base
    return math.floor(t)


def scaled_size(info: MediaInfo) -> tuple[int, int]:
    """(width, height) with the shorter displayed side at FRAME_SHORT_SIDE, aspect kept, each even."""
    w, h = max(info.width, 1), max(info.height, 1)
    if w <= h:
        sw, sh = FRAME_SHORT_SIDE, round(FRAME_SHORT_SIDE * h / w / 2) * 2
    else:
        sw, sh = round(FRAME_SHORT_SIDE * w / h / 2) * 2, FRAME_SHORT_SIDE
    return max(sw, FRAME_CROP), max(sh, FRAME_CROP)


# --- probing -----------------------------------------------------------------------------------------------


def _require_media_file(path: Path) -> None:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise DecodeError(f"{path}: no such file.") from None
    except OSError as exc:
        raise DecodeError(f"{path}: cannot be read ({exc.strerror}).") from None
    if not stat.S_ISREG(st.st_mode):
        raise DecodeError(f"{path}: not a regular file (a pipe, device or folder cannot be analysed).")
    if st.st_size == 0:
        raise DecodeError(f"{path}: the file is empty.")


def _container_name(format_name: str, path: Path) -> str:
    names = format_name.split(",")
    ext = path.suffix.lower().lstrip(".")
    return ext if ext in names else names[0]


def _rotation(frame) -> int:
    try:
        return int(round(float(frame.rotation or 0))) % 360  # the display matrix angle
    except (AttributeError, TypeError, ValueError):
        return 0


def probe(path: str | os.PathLike, *, timeout_s: float = 30) -> MediaInfo:
    """Describe a movie; raise DecodeError if it is not a readable video with a positive duration."""
    import av

    path = Path(path)
    _require_media_file(path)
    deadline = time.monotonic() + timeout_s
    try:
        container = av.open(str(path), timeout=timeout_s)
    except av.error.FFmpegError as exc:
        raise DecodeError(f"{path}: not a readable movie ({exc.strerror or exc}).") from None
    try:
        video = next((s for s in container.streams if s.type == "video"), None)
        if video is None:
            raise DecodeError(f"{path}: the file has no video stream.")
        audio = next((s for s in container.streams if s.type == "audio"), None)
        duration_s = _duration_s(container, path, deadline)
        if duration_s <= 0:
            raise DecodeError(f"{path}: the movie has zero duration.")
        video_end_s = None
        origin_s = (container.start_time or 0) / 1_000_000
        video_start_s = 0.0
        if video.start_time is not None and video.time_base is not None:
            video_start_s = float(video.start_time * video.time_base) - origin_s
        if video.duration is not None and video.time_base is not None:
            origin_s = (container.start_time or 0) / 1_000_000  # ffmpeg's timeline starts at the container start
            video_end_s = float(((video.start_time or 0) + video.duration) * video.time_base) - origin_s
        first = _first_frame(container, video, path, deadline)
        sar = video.sample_aspect_ratio or video.codec_context.sample_aspect_ratio
        pixel_aspect = float(sar) if sar and sar > 0 else 1.0
        rotation = _rotation(first)
        width, height = round(video.width * pixel_aspect), video.height
        if rotation in (90, 270):
            width, height = height, width
        rate = video.average_rate or video.guessed_rate
        grid = video.base_rate or rate
        constant = bool(grid) and _on_frame_grid(container, video, grid)
        return MediaInfo(
            duration_s=duration_s,
            width=int(width),
            height=int(height),
            fps=float(rate) if rate else None,
            has_audio=audio is not None,
            container=_container_name(container.format.name, path),
            video_codec=video.codec_context.name,
            audio_codec=audio.codec_context.name if audio is not None else None,
            rotation_deg=rotation,
            pixel_aspect=pixel_aspect,
            video_end_s=video_end_s,
            color_matrix="bt709" if getattr(first, "colorspace", None) == _AVCOL_SPC_BT709 else "bt601",
            full_range=getattr(first, "color_range", None) == _AVCOL_RANGE_JPEG,
            constant_frame_rate=constant,
            video_start_s=video_start_s,
            grid_fps=float(grid) if constant else None,
        )
    except av.error.FFmpegError as exc:
        raise DecodeError(f"{path}: the movie is corrupt or truncated ({exc.strerror or exc}).") from None
    finally:
        container.close()


def _duration_s(container, path: Path, deadline: float) -> float:
    if container.duration is not None and container.duration > 0:
        return container.duration / 1_000_000
    ends = [
        float(((s.start_time or 0) + s.duration) * s.time_base)
        for s in container.streams
        if s.duration is not None and s.time_base is not None
    ]
    if ends:
        return max(ends)
    end = 0.0
    for packet in container.demux():  # no duration in the header (e.g. live-recorded webm): read packet times
        if time.monotonic() > deadline:
            raise DecodeError(f"{path}: timed out while measuring the duration.")
        if packet.pts is not None and packet.time_base is not None:
            end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
    container.seek(0)
    return end


def _on_frame_grid(container, video, rate, *, packets: int = 300) -> bool:
    """Whether the first `packets` frames sit at first + i / rate (within a third of a frame): a constant rate, as
    far as can be told without reading the whole file."""
    import av

    try:
        container.seek(0)
        times = []
        for packet in container.demux(video):
            if packet.pts is not None:
                times.append(packet.pts * packet.time_base)
            if len(times) >= packets:
                break
    except av.error.FFmpegError:
        return False
    times.sort()
    step = 1 / Fraction(rate)
    return all(abs(t - times[0] - i * step) < step / 3 for i, t in enumerate(times))


_AVCOL_SPC_BT709, _AVCOL_RANGE_JPEG = 1, 2  # FFmpeg's AVColorSpace / AVColorRange values


def _first_frame(container, video, path: Path, deadline: float):
    for frame in container.decode(video):
        return frame
    raise DecodeError(f"{path}: the video stream has no decodable frame.")


# --- ffmpeg as a checked subprocess ------------------------------------------------------------------------


class FFmpegProcess:
    """ffmpeg writing to a pipe, killed when it exceeds timeout_s or stays silent for stall_s while read."""

    def __init__(self, args: list[str], *, path: Path, what: str, timeout_s: float, stall_s: float) -> None:
        self.path, self.what = path, what
        self.timeout_s, self.stall_s = timeout_s, stall_s
        self._stderr = tempfile.TemporaryFile()
        self._lock = threading.Lock()
        self._reading_since: float | None = None
        self._killed_because: str | None = None
        self._closed = threading.Event()
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._stderr, bufsize=0,
        )
        self._watchdog = threading.Thread(target=self._watch, name=f"ffmpeg-watchdog-{what}", daemon=True)
        self._watchdog.start()

    def _watch(self) -> None:
        while not self._closed.wait(0.1):
            now = time.monotonic()
            with self._lock:
                reading_since = self._reading_since
            if now - self.started > self.timeout_s:
                self._kill(f"did not finish within its {self.timeout_s:.0f} s timeout")
                return
            if reading_since is not None and now - reading_since > self.stall_s:
                self._kill(f"produced no output for {self.stall_s:g} s (stalled)")
                return
            if self.proc.poll() is not None:
                return

    def _kill(self, why: str) -> None:
        with self._lock:
            if self._killed_because is None:
                self._killed_because = why
        if self.proc.poll() is None:
            self.proc.kill()

    def read_into(self, buffer: memoryview) -> int:
        """Fill buffer; return the bytes read (short only at end of stream). Raises DecodeError on kill."""
        filled = 0
        with self._lock:
            self._reading_since = time.monotonic()
        try:
            while filled < len(buffer):
                got = self.proc.stdout.readinto(buffer[filled:])
                if not got:
                    break
                filled += got
                with self._lock:
                    self._reading_since = time.monotonic()
        finally:
            with self._lock:
                self._reading_since = None
        if filled < len(buffer) and self._killed_because is not None:
            raise DecodeError(f"{self.path}: ffmpeg {self.what} {self._killed_because}; the file may be damaged.")
        return filled

    def finish(self) -> None:
        """After end of stream: wait for exit and raise DecodeError if ffmpeg failed."""
        try:
            code = self.proc.wait(timeout=max(1.0, self.timeout_s - (time.monotonic() - self.started)))
        except subprocess.TimeoutExpired:
            self._kill(f"did not exit within its {self.timeout_s:.0f} s timeout")
            code = self.proc.wait()
        if self._killed_because is not None:
            raise DecodeError(f"{self.path}: ffmpeg {self.what} {self._killed_because}; the file may be damaged.")
        if code != 0:
            raise DecodeError(f"{self.path}: ffmpeg could not {self.what} (exit {code}): {self.stderr_tail()}")

    def stderr_tail(self, limit: int = 600, *, empty: str = "no message") -> str:
        try:
            self._stderr.seek(0, os.SEEK_END)
            size = self._stderr.tell()
            self._stderr.seek(max(0, size - limit))
            text = self._stderr.read().decode("utf-8", "replace").strip()
        except (OSError, ValueError):
            return empty
        return " / ".join(line.strip() for line in text.splitlines() if line.strip()) or empty

    def close(self) -> None:
        self._closed.set()
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.proc.stdout.close()
        self._stderr.close()


def run_ffmpeg(args: list[str], *, path: Path, what: str, timeout_s: float) -> bytes:
    """Run ffmpeg to completion and return its stdout, with a hard timeout."""
    with tempfile.TemporaryFile() as err:
        try:
            done = subprocess.run(
                [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", *args],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, timeout=timeout_s, check=False,
            )
        except subprocess.TimeoutExpired:
            raise DecodeError(f"{path}: ffmpeg could not {what} within {timeout_s:g} s.") from None
        if done.returncode != 0:
            err.seek(0)
            message = err.read()[-600:].decode("utf-8", "replace").strip().replace("\n", " / ")
            raise DecodeError(f"{path}: ffmpeg could not {what} (exit {done.returncode}): {message or 'no message'}")
        return done.stdout


# --- stills ------------------------------------------------------------------------------------------------


def extract_frame(path: str | os.PathLike, *, at_s: float, width: int = 320, timeout_s: float = 30) -> bytes:
    """The frame shown at at_s seconds as JPEG bytes, `width` pixels wide with the displayed aspect kept."""
    path = Path(path)
    _require_media_file(path)
    if not (at_s >= 0 and math.isfinite(at_s)):
        raise DecodeError(f"{path}: cannot take a frame at {at_s} s; the time must be 0 or more.")
    if width < 16 or width > 8192:
        raise DecodeError(f"{path}: a still {width} pixels wide is not possible; choose 16 to 8192.")
    height = f"max(2\\,trunc({width}*ih/(iw*sar)/2)*2)"
    args = ["-ss", f"{at_s:.6f}", "-i", str(path), "-map", "0:v:0", "-frames:v", "1",
            "-vf", f"scale={width}:{height},setsar=1", "-c:v", "mjpeg", "-q:v", "3", "-f", "image2pipe", "pipe:1"]
    try:
        jpeg = run_ffmpeg(args, path=path, what=f"extract a frame at {at_s:g} s", timeout_s=timeout_s)
    except DecodeError:
        jpeg = b""
        failure = True
    else:
        failure = False
    if jpeg.startswith(b"\xff\xd8"):
        return jpeg
    info = probe(path, timeout_s=timeout_s)
    if at_s >= info.duration_s:
        raise DecodeError(f"{path}: there is no frame at {at_s:g} s; the movie lasts {info.duration_s:.3f} s.")
    if failure:
        run_ffmpeg(args, path=path, what=f"extract a frame at {at_s:g} s", timeout_s=timeout_s)  # raises with details
    raise DecodeError(f"{path}: ffmpeg gave no picture at {at_s:g} s; the video may be damaged there.")


# --- the streaming pass ------------------------------------------------------------------------------------


def _video_args(
    path: Path, info: MediaInfo, n: int, *, fast: bool, hwaccel: str | None, per_window: int = 1,
    whole_frame: bool = False,
) -> list[str]:
    sw, sh = scaled_size(info)
    crop = "" if whole_frame else f"crop={FRAME_CROP}:{FRAME_CROP},"
    args: list[str] = []
    if hwaccel:
        args += ["-hwaccel", hwaccel]
    if fast and info.video_codec == "h264":
        args += list(FAST_H264_OPTIONS)
    vf = (
        f"fps=fps={per_window}:start_time=0:round=down,"
        f"scale={sw}:{sh}:flags=bilinear,setsar=1,{crop}format=rgb24"
    )
    return args + ["-i", str(path), "-map", "0:v:0", "-an", "-sn", "-dn", "-vf", vf,
                   "-frames:v", str(n * per_window), "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]


def _audio_args(path: Path, n: int) -> list[str]:
    return ["-i", str(path), "-map", "0:a:0", "-vn", "-sn", "-dn",
            "-af", f"aresample={AUDIO_SAMPLE_RATE}:async=1:first_pts=0", "-ac", "1",
            "-t", str(n), "-f", "f32le", "-acodec", "pcm_f32le", "pipe:1"]


class _Reader(threading.Thread):
    """Reads batches from an ffmpeg pipe into a bounded queue (back pressure stops ffmpeg, not memory)."""

    def __init__(
        self, proc: FFmpegProcess, *, n: int, batch_size: int, kind: str, min_windows: int, per_window: int = 1,
        picture: tuple[int, int] = (FRAME_CROP, FRAME_CROP),
    ) -> None:
        super().__init__(name=f"decode-{kind}", daemon=True)
        self.proc, self.n, self.batch_size, self.kind, self.min_windows = proc, n, batch_size, kind, min_windows
        self.per_window, self.picture = per_window, picture
        self.queue: queue.Queue = queue.Queue(maxsize=_QUEUE_BATCHES)
        self.stop = threading.Event()
        self.warning = ""  # set before the batch it concerns is queued

    def _put(self, item) -> bool:
        return put_until_stopped(self.queue, item, self.stop)

    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # handed to the consumer, which raises it
            self._put(exc)

    def _run(self) -> None:
        height, width = self.picture
        unit = height * width * 3 * self.per_window if self.kind == "video" else SAMPLES_PER_WINDOW * 4
        done, ended, last_frame = 0, False, None
        while done < self.n and not self.stop.is_set():
            b = min(self.batch_size, self.n - done)
            raw = np.empty(b * unit, dtype=np.uint8)
            got = 0 if ended else self._read(raw, done)
            if got < len(raw) and not ended:
                ended = True
                windows_read = done + got // unit
                self._finish(windows_read)
                if windows_read < self.min_windows:
                    raise DecodeError(
                        f"{self.proc.path}: the {self.kind} stopped after {windows_read} s of an expected "
                        f"{self.min_windows} s; the file looks truncated or corrupt."
                    )
            elif self.kind == "audio" and done + b == self.n and not ended:
                self._audio_end()
            if self.kind == "video":
                frames = raw.reshape((b, height, width, 3) if self.per_window == 1 else
                                     (b, self.per_window, height, width, 3))
                whole = got // unit
                if whole:
                    last_frame = frames[whole - 1].copy()
                if whole < b:
                    if last_frame is None:
                        raise DecodeError(f"{self.proc.path}: ffmpeg produced no video frame.")
                    frames[whole:] = last_frame  # the video stream ends before the movie: hold its last frame
                item = frames
            else:
                samples = raw.view(np.float32)
                samples[got // 4:] = 0.0  # the audio ends before the movie (or cannot be decoded): silence
                item = np.ascontiguousarray(samples.reshape(b, SAMPLES_PER_WINDOW)[:, -PATCH_SAMPLES:])
            if not self._put(item):
                return
            done += b

    def _read(self, raw: np.ndarray, done: int) -> int:
        try:
            return self.proc.read_into(memoryview(raw))
        except DecodeError as exc:
            if self.kind == "video":
                raise
            self.warning = self._silence_note(done, str(exc))  # killed (stalled or too slow): silence from here
            return 0

    def _finish(self, windows_read: int) -> None:
        """After end of stream. An audio track that exists but cannot be decoded does not stop the analysis (as for a
        film without audio, its seconds are silence); `warning` says so, without the file's path."""
        try:
            self.proc.finish()
        except DecodeError as exc:
            if self.kind == "video":
                raise
            if not self.warning:
                self.warning = self._silence_note(windows_read, self.proc.stderr_tail() or str(exc))
            return
        if self.kind == "audio" and not self.warning:
            errors = self.proc.stderr_tail(empty="")  # ffmpeg succeeded but skipped packets it could not decode
            if errors:
                self.warning = (
                    f"Parts of the audio track could not be decoded ({self._clean(errors)}); those parts were "
                    "analysed as silence."
                )

    def _audio_end(self) -> None:
        """Every window's audio arrived: note the packets ffmpeg skipped because it could not decode them. (ffmpeg
        ends by itself after -t; one that does not within seconds is left to close().)"""
        try:
            code = self.proc.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return
        errors = self.proc.stderr_tail(empty="")
        if (code != 0 or errors) and not self.warning:
            self.warning = (
                f"Parts of the audio track could not be decoded ({self._clean(errors or f'exit {code}')}); those "
                "parts were analysed as silence."
            )

    def _silence_note(self, from_window: int, message: str) -> str:
        where = "" if from_window == 0 else f" after {from_window} s"
        return (
            f"The audio track could not be decoded{where} ({self._clean(message)}); the film was analysed with "
            f"silence {'instead' if from_window == 0 else 'from there on'}."
        )

    def _clean(self, message: str) -> str:
        """ffmpeg's most repeated complaint, without the file's path, decoder addresses or its closing noise."""
        path = self.proc.path
        message = message.replace(str(path), "the file").replace(path.name, "the file")
        parts = [re.sub(r"\[[^\]]*\]\s*", "", part).strip() for part in message.split(" / ")]
        parts = [part for part in parts if part and not _FFMPEG_NOISE.search(part)]
        if not parts:
            return "no message"
        counts = collections.Counter(parts)
        return max(reversed(parts), key=counts.__getitem__)[:200]


_FFMPEG_NOISE = re.compile(
    r"Last message repeated|Terminating thread|Task finished with error|Error number|Conversion failed|Nothing was "
    r"written|^exit -?\d+"
)


def iter_window_batches(
    path: str | os.PathLike,
    *,
    info: MediaInfo | None = None,
    batch_size: int = 32,
    timeout_s: float | None = None,
    stall_s: float = DEFAULT_STALL_S,
    fast: bool = True,
    hwaccel: str | None = None,
    per_window: int = 1,
    video: bool = True,
    whole_frame: bool = False,
) -> Iterator[WindowBatch]:
    """Stream a movie once and yield its windows in batches; memory stays bounded whatever the length.

    fast=True skips H.264 work (FAST_H264_OPTIONS); fast=False picks exactly the last frame before k + 1.
    per_window=m takes m pictures per window, the last frames before k + 1/m, ..., k + 1 (frames then has the shape
    (b, m, 224, 224, 3)). video=False decodes only the audio (frames is then (b, 0) uint8): the NVDEC path's sound.
    whole_frame=True skips the centre crop: frames are the whole picture at scaled_size (b, h, w, 3).
    An audio track that exists but cannot be decoded gives silence and a WindowBatch.audio_warning, not an error.
    Closing the generator (or an exception in the consumer) kills the ffmpeg processes.
    """
    path = Path(path)
    info = info or probe(path)
    n = info.window_count
    if n == 0:
        return
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    if per_window < 1:
        raise ValueError("per_window must be at least 1")
    timeout_s = timeout_s if timeout_s is not None else 120.0 + 4.0 * info.duration_s
    video_windows = n if info.video_end_s is None else min(n, window_count(info.video_end_s))
    readers: list[_Reader] = []
    procs: list[FFmpegProcess] = []
    try:
        if video:
            vproc = FFmpegProcess(
                _video_args(path, info, n, fast=fast, hwaccel=hwaccel, per_window=per_window, whole_frame=whole_frame),
                path=path, what="decode the video", timeout_s=timeout_s, stall_s=stall_s,
            )
            procs.append(vproc)
            width, height = scaled_size(info) if whole_frame else (FRAME_CROP, FRAME_CROP)
            readers.append(_Reader(vproc, n=n, batch_size=batch_size, kind="video", min_windows=video_windows - 1,
                                   per_window=per_window, picture=(height, width)))
        if info.has_audio:
            aproc = FFmpegProcess(_audio_args(path, n), path=path, what="decode the audio",
                                  timeout_s=timeout_s, stall_s=stall_s)
            procs.append(aproc)
            readers.append(_Reader(aproc, n=n, batch_size=batch_size, kind="audio", min_windows=0))
        for reader in readers:
            reader.start()
        for start in range(0, n, batch_size):
            b = min(batch_size, n - start)
            frames = _take(readers[0]) if video else np.empty((b, 0), dtype=np.uint8)
            sound = readers[-1] if readers and readers[-1].kind == "audio" else None
            if sound is not None:
                audio, audio_warning = _take(sound), sound.warning
            else:
                audio, audio_warning = np.zeros((b, PATCH_SAMPLES), dtype=np.float32), ""
            yield WindowBatch(start=start, frames=frames, audio=audio, audio_warning=audio_warning)
    finally:
        for reader in readers:
            reader.stop.set()
        for proc in procs:
            proc.close()
        for reader in readers:
            reader.join(timeout=5)


def _take(reader: _Reader) -> np.ndarray:
    while True:
        try:
            item = reader.queue.get(timeout=1.0)
        except queue.Empty:
            if not reader.is_alive() and reader.queue.empty():
                raise DecodeError(f"{reader.proc.path}: the {reader.kind} reader stopped unexpectedly.") from None
            continue
        if isinstance(item, BaseException):
            raise item
        return item
