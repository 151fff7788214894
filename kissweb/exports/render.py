"""Rendering exports with moviepy: a scene clip, a supercut of scenes, a contact sheet.

Plain functions on files, no Django. Each one:
- writes its output whole or not at all: everything is made in a private folder next to the output and renamed
  into place at the end, and the folder is removed whatever happens (cancelled, disk full, a broken source);
- seeks to every scene: moviepy's readers start ffmpeg with `-ss` before `-i` for any frame further than 100
  frames ahead (audio: 1,000,000 samples), so no film is decoded from its start to reach a scene;
- reports progress as a fraction through a callback, which may raise (e.g. `Cancelled`) to stop the render;
- keeps memory flat: at most two sources are open at a time (two during a crossfade), one frame each.
"""

from __future__ import annotations

import errno
import logging
import math
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

ProgressFn = Callable[[float], None]

AUDIO_FPS = 44100
AUDIO_CHANNELS = 2
# Share of the progress bar for the audio pass (moviepy writes the sound first, then the pictures).
AUDIO_SHARE = 0.1
DISK_FULL_WORDS = ("No space left on device", "Disk quota exceeded")


class RenderError(Exception):
    """The export could not be made; the message says why in words a person can act on."""


class SourceUnreadable(RenderError):
    """A source film is missing, not a video, or corrupt where the export needs it."""


class DiskFull(RenderError):
    """The disk filled up while the export was written (nothing was kept)."""


class Cancelled(Exception):  # noqa: N818 - a signal, not a failure
    """Raised by a progress callback to stop a render; it leaves nothing behind."""


@dataclass(frozen=True)
class Encoding:
    """H.264/AAC in MP4. veryfast keeps 720p above real time on 2 cores (bench/exports.py); crf 20 looks clean."""

    preset: str = "veryfast"
    crf: int = 20
    audio_bitrate: str = "160k"
    threads: int = 2


@dataclass(frozen=True)
class Cut:
    """[start_s, end_s) of a source file; `card` (lines of text) puts a title card before it in a supercut."""

    source: Path
    start_s: float
    end_s: float
    has_audio: bool = True
    card: tuple[str, ...] = ()


# --- the output, whole or not at all ---------------------------------------------------------------------------


def is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return any(words in str(exc) for words in DISK_FULL_WORDS)


@contextmanager
def atomic_output(output: Path) -> Iterator[tuple[Path, Path]]:
    """(private work folder, partial file) next to `output`; the partial becomes `output` only on success."""
    output.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".render-", dir=output.parent))
    partial = work / f"partial{output.suffix}"
    try:
        yield work, partial
        os.replace(partial, output)
    except Cancelled:
        raise
    except Exception as exc:
        if is_disk_full(exc):
            raise DiskFull("The server's disk filled up while the export was written; nothing was kept. Free space "
                           "in the media folder (KISSWEB_DATA_DIR), then export again.") from exc
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


@contextmanager
def strict_readers() -> Iterator[None]:
    """moviepy answers a frame it could not read with the last good one and a warning; an export of a damaged
    film must fail instead, so that warning becomes an error here."""
    with warnings.catch_warnings():
        warnings.filterwarnings("error", category=UserWarning, module=r"moviepy\.video\.io\.ffmpeg_reader")
        yield


# --- sizes -------------------------------------------------------------------------------------------------------


def even(n: float) -> int:
    return max(2, int(n / 2 + 0.5) * 2)


def fit_size(size: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    """`size` scaled to fit inside `box` with its aspect kept, both sides even (H.264 4:2:0 needs that)."""
    w, h = size
    bw, bh = box
    scale = min(bw / w, bh / h)
    return min(even(w * scale), bw), min(even(h * scale), bh)


def output_size(sizes: Sequence[tuple[int, int]], *, max_height: int) -> tuple[int, int]:
    """One size for a supercut of films of several sizes: the largest source, no taller than max_height, even."""
    w, h = max(sizes, key=lambda s: s[0] * s[1])
    if h > max_height:
        w, h = w * max_height / h, max_height
    return even(w), even(h)


MIN_SOURCE_FPS = 1.0  # a rate read below this is a broken header (e.g. 0.001), not a film: treated as unknown
DEFAULT_FPS = 25.0


def output_fps(rates: Sequence[float | None], *, max_fps: float) -> float:
    """One frame rate for an export: the highest plausible source rate, capped (frames are repeated or dropped to
    fit); DEFAULT_FPS when no source has a plausible one."""
    known = [r for r in rates if r is not None and math.isfinite(r) and r >= MIN_SOURCE_FPS]
    return min(max(known, default=DEFAULT_FPS), max_fps)


# --- progress ----------------------------------------------------------------------------------------------------


def _progress_logger(progress: ProgressFn | None):
    """A proglog logger that turns moviepy's audio ("chunk") and video ("frame_index") bars into one fraction."""
    import proglog

    class Logger(proglog.ProgressBarLogger):
        def bars_callback(self, bar, attr, value, old_value=None):
            if progress is None or attr != "index":
                return
            total = self.bars[bar].get("total") or 0
            done = min(value / total, 1.0) if total else 0.0
            if bar == "chunk":
                progress(AUDIO_SHARE * done)
            elif bar == "frame_index":
                progress(AUDIO_SHARE + (1 - AUDIO_SHARE) * done)

    return Logger(logged_bars=None, min_time_interval=0.25)


# --- the timeline: cuts and title cards, with crossfades ---------------------------------------------------------


@dataclass
class _Item:
    """A piece of the output: a cut of a source, or a still (a title card). Sources open lazily, close early."""

    start: float  # on the output's timeline
    duration: float
    cut: Cut | None = None
    still: np.ndarray | None = None
    frame_size: tuple[int, int] | None = None  # the size the source is scaled to (fits the canvas)
    _video: object = field(default=None, repr=False)
    _audio: object = field(default=None, repr=False)

    @property
    def end(self) -> float:
        return self.start + self.duration

    def frame(self, t: float) -> np.ndarray:
        if self.still is not None:
            return self.still
        if self._video is None:
            self._video = open_video(self.cut, target=self.frame_size)
        local = min(self.cut.start_s + (t - self.start), self.cut.end_s - 1e-3)
        return self._video.get_frame(max(local, self.cut.start_s))

    def sound(self, tt: np.ndarray) -> np.ndarray:
        """Samples at output times tt (n,) -> (n, 2); silence outside the item or for a film without sound."""
        out = np.zeros((len(tt), AUDIO_CHANNELS))
        if self.cut is None or not self.cut.has_audio:
            return out
        inside = (tt >= self.start) & (tt < self.end)
        if not inside.any():
            return out
        if self._audio is None:
            self._audio = _open_audio(self.cut)
        local = self.cut.start_s + (tt[inside] - self.start)
        samples = np.asarray(self._audio.get_frame(local))
        if samples.ndim == 1:
            samples = samples[:, None]
        out[inside] = samples[:, :AUDIO_CHANNELS] if samples.shape[1] >= AUDIO_CHANNELS else samples[:, :1]
        return out

    def close_video(self) -> None:
        if self._video is not None:
            self._video.close()
            self._video = None

    def close_audio(self) -> None:
        if self._audio is not None:
            self._audio.close()
            self._audio = None


def open_video(cut: Cut, *, target: tuple[int, int] | None):
    from moviepy import VideoFileClip

    try:
        # target_resolution makes ffmpeg scale while decoding (in its own threads), not numpy or PIL afterwards.
        return VideoFileClip(str(cut.source), audio=False, target_resolution=target)
    except (OSError, KeyError, IndexError, ValueError) as exc:
        raise SourceUnreadable(f"{cut.source.name}: the film cannot be read ({short(exc)}).") from exc


def _open_audio(cut: Cut):
    from moviepy import AudioFileClip

    try:
        return AudioFileClip(str(cut.source), fps=AUDIO_FPS, nbytes=2, buffersize=AUDIO_FPS * 4)
    except (OSError, KeyError, IndexError, ValueError) as exc:
        raise SourceUnreadable(f"{cut.source.name}: the film's sound cannot be read ({short(exc)}).") from exc


def short(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[:limit] + "…"


class Timeline:
    """Items one after another, each overlapping the next by `crossfade_s` (pictures blend, sounds cross)."""

    def __init__(self, items: list[_Item], *, size: tuple[int, int], crossfade_s: float) -> None:
        self.items, self.size, self.crossfade_s = items, size, crossfade_s
        self.duration = max((item.end for item in items), default=0.0)
        self._canvas = np.zeros((size[1], size[0], 3), dtype=np.uint8)

    @classmethod
    def build(
        cls, cuts: Sequence[Cut], *, size: tuple[int, int], source_sizes: Sequence[tuple[int, int]],
        crossfade_s: float = 0.0, card_s: float = 0.0,
    ) -> Timeline:
        items: list[_Item] = []
        t = 0.0
        for cut, source_size in zip(cuts, source_sizes, strict=True):
            length = cut.end_s - cut.start_s
            if length <= 0:
                continue
            pieces: list[_Item] = []
            if cut.card and card_s > 0:
                pieces.append(_Item(start=0, duration=card_s, still=title_card(cut.card, size=size)))
            # Always through ffmpeg's scaler: the stored size is the displayed one (pixel aspect applied), which a
            # reader without a target would not give for anamorphic films.
            frame_size = fit_size(source_size, size)
            pieces.append(_Item(start=0, duration=length, cut=cut, frame_size=frame_size))
            for piece in pieces:
                overlap = min(crossfade_s, piece.duration / 3, items[-1].duration / 3) if items else 0.0
                piece.start = max(t - overlap, 0.0)
                t = piece.end
                items.append(piece)
        return cls(items, size=size, crossfade_s=crossfade_s)

    def _on_canvas(self, frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        if (w, h) == self.size:
            return frame
        canvas = self._canvas
        canvas[:] = 0
        top, left = (self.size[1] - h) // 2, (self.size[0] - w) // 2
        canvas[top:top + h, left:left + w] = frame[:, :, :3]
        return canvas.copy()

    def frame(self, t: float) -> np.ndarray:
        for item in self.items:  # moviepy writes the sound, then the pictures: one kind of reader at a time
            item.close_audio()
        active = [item for item in self.items if item.start <= t < item.end] or self.items[-1:]
        for item in self.items:  # the writer asks in time order: a source that is over can close now
            if item.end < t:
                item.close_video()
        if len(active) == 1:
            return self._on_canvas(active[0].frame(t))
        a, b = active[-2], active[-1]
        weight = int(256 * min(max((t - b.start) / max(a.end - b.start, 1e-6), 0.0), 1.0))
        fa = self._on_canvas(a.frame(t)).astype(np.uint16)
        fb = self._on_canvas(b.frame(t)).astype(np.uint16)
        return ((fa * (256 - weight) + fb * weight) >> 8).astype(np.uint8)

    def sound(self, tt) -> np.ndarray:
        scalar = np.ndim(tt) == 0
        tt = np.atleast_1d(np.asarray(tt, dtype=np.float64))
        out = np.zeros((len(tt), AUDIO_CHANNELS))
        first, last = tt.min(), tt.max()
        for item in self.items:
            item.close_video()
        for i, item in enumerate(self.items):
            if item.end <= first or item.start > last:
                if item.end < first:
                    item.close_audio()
                continue
            gain = np.ones(len(tt))
            if i > 0 and self.items[i - 1].end > item.start:  # fading in over the previous item's tail
                fade = self.items[i - 1].end - item.start
                gain *= np.clip((tt - item.start) / fade, 0.0, 1.0)
            if i + 1 < len(self.items) and self.items[i + 1].start < item.end:  # fading out under the next
                fade = item.end - self.items[i + 1].start
                gain *= np.clip((item.end - tt) / fade, 0.0, 1.0)
            out += item.sound(tt) * gain[:, None]
        return out[0] if scalar else out

    def close(self) -> None:
        for item in self.items:
            item.close_video()
            item.close_audio()


def title_card(lines: Sequence[str], *, size: tuple[int, int]) -> np.ndarray:
    """A still: the lines centred in white on black, the first one larger."""
    from PIL import Image, ImageDraw

    from kissweb.exports.fonts import font as typeface

    w, h = size
    image = Image.new("RGB", (w, h), (0, 0, 0))
    draw = ImageDraw.Draw(image)
    big, small = max(12, h // 12), max(10, h // 20)
    y = h // 2 - (big + small * (len(lines) - 1)) // 2
    for i, line in enumerate(lines):
        font = typeface(big, bold=True) if i == 0 else typeface(small)
        text = fit_text(draw, line, font, w - w // 10)
        width = draw.textlength(text, font=font)
        draw.text(((w - width) / 2, y), text, fill=(255, 255, 255) if i == 0 else (200, 200, 200), font=font)
        y += int((big if i == 0 else small) * 1.4)
    return np.asarray(image)


def fit_text(draw, text: str, font, max_width: int) -> str:
    if draw.textlength(text, font=font) <= max_width:
        return text
    while text and draw.textlength(text + "…", font=font) > max_width:
        text = text[:-1]
    return text + "…"


# --- the three exports -----------------------------------------------------------------------------------------


def write_timeline(
    timeline: Timeline, *, output: Path, fps: float, encoding: Encoding, progress: ProgressFn | None = None,
) -> None:
    """Encode the timeline to an H.264/AAC MP4 at `output` (whole or not at all)."""
    from moviepy import AudioClip, VideoClip

    if timeline.duration <= 0:
        raise RenderError("There is nothing to export: every scene has zero length.")
    with_sound = any(item.cut is not None and item.cut.has_audio for item in timeline.items)
    try:
        with atomic_output(output) as (work, partial), strict_readers():
            # Given without frame_function, so that moviepy does not open a source at 0 s to learn the size and
            # the channels: each reader opens once, in its pass, at its scene.
            clip = VideoClip(duration=timeline.duration)
            clip.frame_function, clip.size = timeline.frame, timeline.size
            if with_sound:
                sound = AudioClip(duration=timeline.duration, fps=AUDIO_FPS)
                sound.frame_function, sound.nchannels = timeline.sound, AUDIO_CHANNELS
                clip = clip.with_audio(sound)
            clip.write_videofile(
                str(partial), fps=fps, codec="libx264", audio=with_sound, audio_codec="aac",
                audio_bitrate=encoding.audio_bitrate, audio_fps=AUDIO_FPS, audio_bufsize=AUDIO_FPS // 2,
                preset=encoding.preset, threads=encoding.threads, temp_audiofile_path=str(work),
                ffmpeg_params=["-crf", str(encoding.crf), "-movflags", "+faststart"],
                logger=_progress_logger(progress),
            )
            timeline.close()
            check_written(partial, expected_s=timeline.duration)
    except (RenderError, Cancelled):
        raise
    except UserWarning as exc:  # strict_readers: a frame could not be read
        raise SourceUnreadable(f"A source film is damaged where the export needs it: {short(exc)}") from exc
    except OSError as exc:  # moviepy's words carry ffmpeg's raw stderr and the file's path: those go to the log
        log.warning("the export encoder failed writing %s: %s", output, exc)
        raise RenderError("ffmpeg could not write the export; the details are in the worker's log.") from exc
    finally:
        timeline.close()


def check_written(path: Path, *, expected_s: float) -> None:
    """moviepy does not look at ffmpeg's exit status when it closes the writer: read the file back."""
    import av

    try:
        with av.open(str(path)) as container:
            duration = (container.duration or 0) / 1_000_000
    except (av.error.FFmpegError, OSError) as exc:
        raise RenderError(f"The written export cannot be read back ({short(exc)}).") from exc
    if duration < expected_s - max(0.5, 0.02 * expected_s):
        raise RenderError(f"The written export lasts {duration:.1f} s instead of {expected_s:.1f} s.")


def render_clip(
    *, source: Path, start_s: float, end_s: float, size: tuple[int, int], fps: float, has_audio: bool,
    output: Path, encoding: Encoding = Encoding(), progress: ProgressFn | None = None,
) -> None:
    """One scene of a film, cut exactly at [start_s, end_s), re-encoded to H.264/AAC MP4 at the film's size."""
    timeline = Timeline.build([Cut(source, start_s, end_s, has_audio)], size=size, source_sizes=[size])
    write_timeline(timeline, output=output, fps=fps, encoding=encoding, progress=progress)


def render_supercut(
    *, cuts: Sequence[Cut], source_sizes: Sequence[tuple[int, int]], size: tuple[int, int], fps: float,
    output: Path, crossfade_s: float = 0.5, card_s: float = 0.0, encoding: Encoding = Encoding(),
    progress: ProgressFn | None = None,
) -> None:
    """Scenes one after another with a crossfade, each scaled into `size` (letterboxed when its aspect differs)
    and resampled to `fps`; a title card (cut.card) before each scene when card_s > 0."""
    if not cuts:
        raise RenderError("There are no scenes to put in the supercut.")
    timeline = Timeline.build(cuts, size=size, source_sizes=source_sizes, crossfade_s=crossfade_s, card_s=card_s)
    write_timeline(timeline, output=output, fps=fps, encoding=encoding, progress=progress)
