"""Reading movies: probing, stills, and "frames of these windows" from one of several decode backends.

`ffmpeg` (detector.decode.ffmpeg) is the CPU path: one streaming ffmpeg pass per stream, everywhere. `nvdec`
(detector.decode.nvdec) decodes on the GPU's hardware decoders with PyNvVideoCodec where CUDA is present, K decoders
per film over contiguous window ranges; detector.decode.backends chooses between them and says why. Audio is always
read by ffmpeg on the CPU. Importing this package loads neither torch nor PyNvVideoCodec.
"""

from detector.decode.backends import (
    BACKENDS,
    DecodeChoice,
    choose_backend,
    nvdec_refusal,
    split_windows,
    window_frame_indices,
)
from detector.decode.ffmpeg import (
    DEFAULT_STALL_S,
    FAST_H264_OPTIONS,
    FFmpegProcess,
    MediaInfo,
    WindowBatch,
    audio_sample_range,
    extract_frame,
    ffmpeg_exe,
    frame_slot,
    iter_window_batches,
    probe,
    run_ffmpeg,
    scaled_size,
    window_count,
)
from detector.errors import DecodeError

__all__ = [
    "BACKENDS", "DEFAULT_STALL_S", "FAST_H264_OPTIONS", "DecodeChoice", "DecodeError",
    "FFmpegProcess", "MediaInfo", "WindowBatch", "audio_sample_range", "choose_backend", "extract_frame",
    "ffmpeg_exe", "frame_slot", "iter_window_batches", "nvdec_refusal", "probe", "run_ffmpeg", "scaled_size",
    "split_windows", "window_count", "window_frame_indices",
]
