"""What a stored film may claim: a picture no larger than KISSWEB_MAX_VIDEO_PIXELS, and a duration its bytes can hold.

Analysis and exports cost what the probe says (seconds decoded, pixels scaled), not what was uploaded, so a
198 KB file of 8192x8192 pixels or a 4 KB file whose two frames are stamped 0 s and 10 h would each buy far more work
than its upload cost. Both are refused before the file is kept, with a sentence saying what to do.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from django.conf import settings

from kissweb import errors
from kissweb.library.uploads import format_bytes

log = logging.getLogger(__name__)

COUNT_FRAMES_FOR_S = 5.0  # counting a refused file's frames is for the message only; never wait long for it


class PictureTooLarge(errors.Unprocessable):
    default_code = "picture_too_large"


class DurationImplausible(errors.Unprocessable):
    default_code = "duration_implausible"


def format_duration(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1e6:.1f}".rstrip("0").rstrip(".")


def check_picture_size(*, width: int, height: int, filename: str) -> None:
    limit = int(settings.KISSWEB_MAX_VIDEO_PIXELS)
    if width * height > limit:
        raise PictureTooLarge(
            f"'{filename}' is {width}×{height} pixels ({_megapixels(width * height)} megapixels); this server takes "
            f"films of at most {_megapixels(limit)} megapixels (3840×2160 by default, KISSWEB_MAX_VIDEO_PIXELS). "
            "Scale it down, e.g. `ffmpeg -i IN -vf scale=-2:1080 OUT.mp4`, and upload that."
        )


def video_frame_count(path: Path, *, within_s: float = COUNT_FRAMES_FOR_S) -> int | None:
    """The video packets in the file (demuxed, not decoded), or None when that takes longer than within_s."""
    import av

    deadline = time.monotonic() + within_s
    try:
        with av.open(str(path)) as container:
            video = next((s for s in container.streams if s.type == "video"), None)
            if video is None:
                return 0
            count = 0
            for packet in container.demux(video):
                if packet.size:
                    count += 1
                if time.monotonic() > deadline:
                    return None
            return count
    except av.error.FFmpegError as exc:
        log.info("could not count the frames of %s: %s", path, exc)
        return None


def check_duration_plausible(*, path: Path, duration_s: float, size_bytes: int, filename: str) -> None:
    """Refuse a film whose claimed duration its file could not hold: fewer than KISSWEB_MIN_BYTES_PER_SECOND bytes per
    second of it. Real films, even a still picture over low-bitrate sound, carry kilobytes per second."""
    floor = int(settings.KISSWEB_MIN_BYTES_PER_SECOND)
    if floor <= 0 or size_bytes >= floor * duration_s:
        return
    frames = video_frame_count(path)
    holds = format_bytes(size_bytes) + (f" ({frames} frame{'s' if frames != 1 else ''})" if frames is not None else "")
    raise DurationImplausible(
        f"'{filename}' claims to last {format_duration(duration_s)} but holds only {holds}: too little for that "
        f"length (a film needs at least {floor} bytes per second, KISSWEB_MIN_BYTES_PER_SECOND). Its timestamps are "
        "probably wrong; re-encode it (e.g. `ffmpeg -i IN -c:v libx264 OUT.mp4`) and upload that.",
    )
