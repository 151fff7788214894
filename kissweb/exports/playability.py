"""Whether browsers can play a film as it is stored, and the copy they can play when they cannot. Plain functions on
files, no Django.

The verdict compares the streams' codecs, the container and the pixel format with what Chromium plays (the same list
holds for Chrome, Edge and Firefox, apart from H.264 in Firefox builds without it): MP4/MOV with H.264 (8-bit 4:2:0),
VP9 or AV1 video and AAC, MP3, Opus or FLAC sound; WebM (Matroska) with VP8, VP9 or AV1 and Vorbis or Opus; Ogg with
Theora and Vorbis, Opus or FLAC. Everything else (GIF data, even in a file named .mp4; MPEG-4 part 2 or Xvid in AVI;
H.264 in 4:2:2 or 10 bits; AC-3 sound) gets a copy: H.264 + AAC in MP4 with its index at the front (faststart), so
the player can start before the whole file has arrived and seek with Range requests.
"""

from __future__ import annotations

import errno
import logging
import subprocess
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from kissweb.exports.render import RenderError, SourceUnreadable, atomic_output, check_written, is_disk_full

log = logging.getLogger(__name__)

BROWSER_FORMATS = {
    # container family -> (video codecs, audio codecs) that browsers play in it
    "mp4": ({"h264", "vp9", "av1"}, {"aac", "mp3", "opus", "flac"}),
    "webm": ({"vp8", "vp9", "av1"}, {"vorbis", "opus"}),
    "ogg": ({"theora", "vp8"}, {"vorbis", "opus", "flac"}),
}
# H.264 plays in browsers only as 8-bit 4:2:0 (no High 10, 4:2:2 or 4:4:4); VP9/AV1 also as 10-bit, VP8/VP9 with alpha.
H264_PIXEL_FORMATS = {"yuv420p", "yuvj420p"}
OTHER_PIXEL_FORMATS = {"yuv420p", "yuvj420p", "yuv420p10le", "yuva420p"}
CODEC_WORDS = {"h264": "H.264", "gif": "GIF pictures", "mpeg4": "MPEG-4 part 2 (Xvid/DivX)", "ac3": "AC-3", "eac3": "E-AC-3",
               "hevc": "H.265/HEVC", "mpeg2video": "MPEG-2", "msmpeg4v3": "DivX 3", "wmv2": "WMV", "wmav2": "WMA"}


def _family(format_name: str) -> str | None:
    names = set(format_name.split(","))
    if names & {"mov", "mp4"}:
        return "mp4"
    if names & {"matroska", "webm"}:
        return "webm"
    if "ogg" in names:
        return "ogg"
    return None


def _words(codec: str) -> str:
    return CODEC_WORDS.get(codec, codec)


def why_browsers_cannot_play(path: Path) -> str:
    """'' when browsers play the file as it is; otherwise why not, in words (e.g. "its video is GIF pictures")."""
    import av

    try:
        with av.open(str(path)) as container:
            format_name = container.format.name
            family = _family(format_name)
            if not container.streams.video:
                return "it has no video stream"
            video = container.streams.video[0].codec_context
            audio = container.streams.audio[0].codec_context if container.streams.audio else None
            video_codec, pixel_format = video.codec.canonical_name, video.pix_fmt or ""
            audio_codec = audio.codec.canonical_name if audio is not None else None
            container_words = container.format.long_name or container.format.name
    except (av.error.FFmpegError, OSError, IndexError) as exc:
        log.warning("cannot read the streams of %s: %s", path, exc)
        return "its streams cannot be read"
    if family is None and format_name == "gif":
        return "it is a GIF animation, whatever its file name says"
    if family is None:
        return f"its container is {container_words}"
    videos, audios = BROWSER_FORMATS[family]
    if video_codec not in videos:
        return f"its video is {_words(video_codec)}"
    allowed = H264_PIXEL_FORMATS if video_codec == "h264" else OTHER_PIXEL_FORMATS
    if pixel_format not in allowed:
        return f"its {_words(video_codec)} video is in the pixel format {pixel_format}"
    if audio_codec is not None and audio_codec not in audios:
        return f"its sound is {_words(audio_codec)}"
    return ""


def transcode_for_browsers(
    *, source: Path, output: Path, duration_s: float, max_height: int, preset: str = "veryfast",
    progress: Callable[[float], None] | None = None, timeout_s: float = 6 * 3600,
) -> None:
    """The copy browsers play: H.264 (8-bit 4:2:0, no taller than max_height) + AAC stereo in MP4, faststart; whole
    or absent at `output`. `progress` gets the fraction done (from ffmpeg's -progress) and may raise to stop it."""
    from detector.decode import ffmpeg_exe

    height = f"trunc(min(ih\\,{int(max_height)})/2)*2"
    with atomic_output(output) as (_work, partial), tempfile.TemporaryFile() as stderr:
        command = [
            ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-nostats", "-progress", "pipe:1",
            "-i", str(source), "-map", "0:v:0", "-map", "0:a:0?", "-sn", "-dn",
            "-vf", f"scale=-2:'{height}',format=yuv420p", "-c:v", "libx264", "-preset", preset, "-crf", "23",
            "-profile:v", "high", "-c:a", "aac", "-b:a", "128k", "-ac", "2",
            "-movflags", "+faststart", "-f", "mp4", "-y", str(partial),
        ]
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr, text=True)
        timer = threading.Timer(timeout_s, process.kill)  # a stuck ffmpeg is stopped even when it prints nothing
        timer.start()
        try:
            for line in process.stdout:
                key, _, value = line.strip().partition("=")
                if key == "out_time_us" and value.isdigit() and progress is not None and duration_s > 0:
                    progress(min(int(value) / (duration_s * 1_000_000), 1.0))
            code = process.wait()
        except BaseException:
            process.kill()
            process.wait()
            raise
        finally:
            timer.cancel()
            process.stdout.close()
        if code != 0:
            stderr.seek(0)
            said = stderr.read()[-2000:].decode("utf-8", "replace").strip()
            log.warning("ffmpeg could not make a playable copy of %s (exit %s): %s", source, code, said)
            if is_disk_full(Exception(said)):
                raise OSError(errno.ENOSPC, "No space left on device")
            if code < 0:
                raise RenderError(f"Making the copy took longer than {timeout_s:g} s and was stopped.")
            raise SourceUnreadable("ffmpeg could not read the film to make a copy browsers can play; the details "
                                   "are in the worker's log.")
        check_written(partial, expected_s=duration_s)
