"""The stream-copy fast path of a clip whose cut falls on keyframes."""

from __future__ import annotations

import errno
from pathlib import Path

from kissweb.exports.render import SourceUnreadable, atomic_output, check_written, is_disk_full, short


def stream_copy_possible(source: Path, start_s: float, end_s: float, *, duration_s: float) -> bool:
    """Whether [start_s, end_s) can be cut without re-encoding: H.264 (+ AAC or no sound) whose keyframes fall on
    both ends (within half a frame; the end may also be the film's end). Only packet headers near the two ends
    are read (a seek, no decoding)."""
    import av

    try:
        with av.open(str(source)) as container:
            video = container.streams.video[0]
            audio = container.streams.audio[0] if container.streams.audio else None
            if video.codec_context.name != "h264" or (audio is not None and audio.codec_context.name != "aac"):
                return False
            rate = float(video.average_rate or video.guessed_rate or 25)
            tolerance = 0.5 / rate
            ends = [start_s] + ([] if end_s >= duration_s - tolerance else [end_s])
            for at in ends:
                container.seek(int(max(at - 1.0, 0) / video.time_base), stream=video, backward=True)
                keyframes = []
                for packet in container.demux(video):
                    if packet.pts is None:
                        continue
                    t = float(packet.pts * video.time_base)
                    if packet.is_keyframe:
                        keyframes.append(t)
                    if t > at + 1.0:
                        break
                if not any(abs(k - at) <= tolerance for k in keyframes):
                    return False
            return True
    except (av.error.FFmpegError, OSError, IndexError):
        return False


def copy_clip(*, source: Path, start_s: float, end_s: float, output: Path, timeout_s: float = 600) -> None:
    """The stream-copy fast path for a cut on keyframes. ffmpeg directly, not moviepy: moviepy always decodes and
    encodes every frame, while a cut on keyframes needs neither; here the packets are copied as they are (seconds
    for a 2-hour film's scene, and no generation loss)."""
    from detector.decode import DecodeError, run_ffmpeg

    with atomic_output(output) as (_work, partial):
        try:
            run_ffmpeg(["-ss", f"{start_s:.6f}", "-i", str(source), "-t", f"{end_s - start_s:.6f}",
                        "-map", "0:v:0", "-map", "0:a:0?", "-c", "copy", "-avoid_negative_ts", "make_zero",
                        "-movflags", "+faststart", "-f", "mp4", "-y", str(partial)],
                       path=source, what="copy the scene", timeout_s=timeout_s)
        except DecodeError as exc:
            if is_disk_full(exc):
                raise OSError(errno.ENOSPC, str(exc)) from exc
            raise SourceUnreadable(f"{source.name}: the scene could not be copied ({short(exc)}).") from exc
        check_written(partial, expected_s=end_s - start_s)
