"""Pictures of windows decoded by the GPU's hardware decoders (NVDEC, through PyNvVideoCodec), kept on the GPU.

A film's windows are split into K contiguous ranges (backends.split_windows, on whole network batches); each range
has its own decoder in its own thread, asking for its windows' frame numbers in rising order, so the decoder runs
forward and seeks only at its range's start. Each batch of frames is turned into the ffmpeg path's pictures on the
GPU at once: the NV12 planes are resized first (bilinear with antialiasing, like ffmpeg's scaler, to the shorter
side 256 with the displayed aspect; chroma at half width, as swscale makes it), centre-cropped to 224 and only then
converted to RGB with the stream's matrix (ffmpeg's order: scale in YUV, then convert): mean difference from the
ffmpeg path's pictures about 0.9/255 on a generated 720p film. Batches arrive in the order the decoders finish them, each tagged with
its first window. Any failure raises NvdecError, which the caller answers by falling back to ffmpeg.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from detector.constants import FRAME_CROP
from detector.decode.backends import split_windows, window_frame_indices
from detector.decode.ffmpeg import MediaInfo, put_until_stopped, scaled_size
from detector.errors import DecodeError

if TYPE_CHECKING:
    import torch

# Limited-range YUV -> RGB, as FFmpeg's swscale: (Kr, Kb) of each matrix.
_MATRICES = {"bt601": (0.299, 0.114), "bt709": (0.2126, 0.0722)}
_DONE = object()


class NvdecError(DecodeError):
    """NVDEC could not read the film (opening, decoding or an unexpected frame layout): fall back to ffmpeg."""


def _codec():
    try:
        import PyNvVideoCodec
    except Exception as exc:  # noqa: BLE001 - an ImportError, or a missing libnvcuvid raised as OSError/RuntimeError
        raise NvdecError(f"PyNvVideoCodec cannot be loaded ({type(exc).__name__}: {exc})") from None
    return PyNvVideoCodec


def open_decoder(path: str | Path, *, gpu_id: int, color: str = "NATIVE"):
    """A PyNvVideoCodec SimpleDecoder writing to GPU memory; color NATIVE (NV12) or RGBP."""
    nvc = _codec()
    try:
        return nvc.SimpleDecoder(str(path), gpu_id=gpu_id, use_device_memory=True,
                                 output_color_type=getattr(nvc.OutputColorType, color))
    except Exception as exc:  # noqa: BLE001 - PyNvVideoCodec raises plain exceptions for any unsupported stream
        raise NvdecError(f"NVDEC could not open the video ({type(exc).__name__}: {exc})") from None


def frame_count(decoder) -> int:
    meta = decoder.get_stream_metadata()
    count = int(getattr(meta, "num_frames", 0) or 0)
    if count < 1:
        raise NvdecError("NVDEC does not know how many frames the video has")
    return count


def nv12_to_pictures(frames: "torch.Tensor", info: MediaInfo) -> "torch.Tensor":
    """(b, H*3/2, W) uint8 NV12 -> (b, 224, 224, 3) uint8 RGB: resize each plane, crop, then convert."""
    import torch
    import torch.nn.functional as F

    b, rows, w = frames.shape
    h = rows * 2 // 3
    if h * 3 != rows * 2 or h % 2 or w % 2:
        raise NvdecError(f"unexpected NV12 frame layout {tuple(frames.shape)}")
    sw, sh = scaled_size(info)
    x0, y0 = (sw - FRAME_CROP) // 2, (sh - FRAME_CROP) // 2
    luma = F.interpolate(frames[:, :h].unsqueeze(1).float(), size=(sh, sw), mode="bilinear", antialias=True,
                         align_corners=False)
    uv = frames[:, h:].reshape(b, h // 2, w // 2, 2).permute(0, 3, 1, 2).float()
    # swscale writes RGB with its chroma at half the width, each sample shared by two pixels: so do we
    chroma = F.interpolate(uv, size=(sh, sw // 2), mode="bilinear", antialias=True, align_corners=False)
    chroma = chroma.repeat_interleave(2, dim=3)
    y = luma[:, 0, y0:y0 + FRAME_CROP, x0:x0 + FRAME_CROP]
    u = chroma[:, 0, y0:y0 + FRAME_CROP, x0:x0 + FRAME_CROP] - 128.0
    v = chroma[:, 1, y0:y0 + FRAME_CROP, x0:x0 + FRAME_CROP] - 128.0
    if info.full_range:
        scale_y, scale_c = 1.0, 1.0
    else:
        y = y - 16.0
        scale_y, scale_c = 255.0 / 219.0, 255.0 / 224.0
    kr, kb = _MATRICES.get(info.color_matrix, _MATRICES["bt601"])
    kg = 1.0 - kr - kb
    y = y * scale_y
    u, v = u * scale_c, v * scale_c
    r = y + 2.0 * (1.0 - kr) * v
    g = y - (2.0 * kb * (1.0 - kb) / kg) * u - (2.0 * kr * (1.0 - kr) / kg) * v
    bl = y + 2.0 * (1.0 - kb) * u
    return torch.stack([r, g, bl], dim=-1).round_().clamp_(0, 255).to(torch.uint8)


def rgbp_to_pictures(frames: "torch.Tensor", info: MediaInfo) -> "torch.Tensor":
    """(b, 3, H, W) uint8 RGB converted by the decoder -> (b, 224, 224, 3): resize, crop."""
    import torch.nn.functional as F

    sw, sh = scaled_size(info)
    x0, y0 = (sw - FRAME_CROP) // 2, (sh - FRAME_CROP) // 2
    x = F.interpolate(frames.float(), size=(sh, sw), mode="bilinear", antialias=True, align_corners=False)
    x = x[:, :, y0:y0 + FRAME_CROP, x0:x0 + FRAME_CROP]
    return x.round_().clamp_(0, 255).to(frames.dtype).permute(0, 2, 3, 1).contiguous()


def cuda_device(device: "torch.device | str") -> "torch.device":
    """The CUDA device with its index ("cuda" is the current one): threads and decoders need the number."""
    import torch

    device = torch.device(device)
    if device.type != "cuda":
        raise NvdecError(f"NVDEC decodes on a CUDA device, not {device}")
    return device if device.index is not None else torch.device("cuda", torch.cuda.current_device())


CONVERTERS = {"NATIVE": nv12_to_pictures, "RGBP": rgbp_to_pictures}


class _RangeReader(threading.Thread):
    """One decoder over one contiguous range of windows, putting (first window, pictures) on a shared queue."""

    def __init__(self, path: Path, info: MediaInfo, windows: range, *, per_window: int, chunk: int,
                 device: "torch.device", color: str, out: queue.Queue, stop: threading.Event) -> None:
        super().__init__(name=f"nvdec-{windows.start}", daemon=True)
        self.path, self.info, self.windows, self.per_window, self.chunk = path, info, windows, per_window, chunk
        self.device, self.color, self.out, self.stop = device, color, out, stop

    def _put(self, item) -> bool:
        return put_until_stopped(self.out, item, self.stop)

    def run(self) -> None:
        try:
            self._run()
        except NvdecError as exc:
            self._put(exc)
        except Exception as exc:  # noqa: BLE001 - whatever the decoder raised mid-film: the caller falls back
            self._put(NvdecError(f"NVDEC failed ({type(exc).__name__}: {exc})"))
        self._put(_DONE)

    def _run(self) -> None:
        import torch

        torch.cuda.set_device(self.device)
        decoder = open_decoder(self.path, gpu_id=self.device.index or 0, color=self.color)
        count = frame_count(decoder)
        convert = CONVERTERS[self.color]
        stream = torch.cuda.Stream(self.device)
        with torch.inference_mode():
            for start in range(self.windows.start, self.windows.stop, self.chunk):
                if self.stop.is_set():
                    return
                windows = range(start, min(start + self.chunk, self.windows.stop))
                wanted = window_frame_indices(windows, fps=self.info.grid_fps or self.info.fps, frame_count=count,
                                              per_window=self.per_window, start_s=self.info.video_start_s)
                unique = sorted(set(wanted))
                frames = decoder.get_batch_frames_by_index(unique)
                if len(frames) != len(unique):
                    raise NvdecError(f"NVDEC gave {len(frames)} frames for {len(unique)} asked")
                planes = [torch.from_dlpack(f) for f in frames]  # views of the decoder's buffers, no copy
                with torch.cuda.stream(stream):
                    planes = torch.stack(planes)
                    pictures = convert(planes, self.info)
                    if len(unique) != len(wanted):
                        where = {index: i for i, index in enumerate(unique)}
                        pictures = pictures[torch.tensor([where[i] for i in wanted], device=self.device)]
                    if self.per_window > 1:
                        pictures = pictures.reshape(len(windows), self.per_window, *pictures.shape[1:])
                # the decoder may reuse its frame buffers on the next call: the pictures must be made first
                stream.synchronize()
                if not self._put((start, pictures)):
                    return


def iter_window_pictures(
    path: str | Path,
    *,
    info: MediaInfo,
    decoders: int,
    chunk: int = 32,
    per_window: int = 1,
    device: "torch.device | str" = "cuda",
    color: str = "NATIVE",
) -> Iterator[tuple[int, "torch.Tensor"]]:
    """(first window, pictures) for every window of the film, pictures (b, [m,] 224, 224, 3) uint8 on `device`, in
    the order the K = `decoders` decoders produce them; each covers windows [first, first + b) and b = chunk except at
    range ends. Memory stays bounded: at most 2 batches per decoder wait. Closing the generator stops the decoders."""
    import torch

    path, device = Path(path), cuda_device(device)
    if color not in CONVERTERS:
        raise ValueError(f"color must be one of {', '.join(CONVERTERS)}")
    ranges = split_windows(info.window_count, decoders, align=chunk)
    out: queue.Queue = queue.Queue(maxsize=2 * max(1, len(ranges)))
    stop = threading.Event()
    readers = [_RangeReader(path, info, r, per_window=per_window, chunk=chunk, device=device, color=color, out=out,
                            stop=stop) for r in ranges]
    for reader in readers:
        reader.start()
    running = len(readers)
    try:
        while running:
            try:
                item = out.get(timeout=1.0)
            except queue.Empty:
                if not any(reader.is_alive() for reader in readers) and out.empty():
                    raise NvdecError("the NVDEC decoders stopped unexpectedly") from None
                continue
            if item is _DONE:
                running -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        stop.set()
        for reader in readers:
            reader.join(timeout=10)
