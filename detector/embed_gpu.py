"""The NVDEC embedding path: pictures decoded, resized and embedded on the GPU; the sound read by ffmpeg on the CPU.

K decoders (detector.decode.nvdec) feed one image network batch by batch as their pictures arrive, so decoding and
the network overlap; every batch covers the same windows whatever K is (ranges end on whole batches), so the
embeddings equal a single decoder's, in window order. Embeddings gather in one GPU tensor per network and reach the
host as one copy at the end. The audio runs in its own thread: ffmpeg's 16 kHz samples -> log-mel -> VGGish on the GPU.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from detector.decode.backends import DecodeChoice
from detector.decode.ffmpeg import MediaInfo, iter_window_batches

if TYPE_CHECKING:
    from detector.networks import Backbones


def embed_nvdec(
    path: Path,
    *,
    info: MediaInfo,
    nets: "Backbones",
    choice: DecodeChoice,
    channel_order: str,
    batch_size: int,
    timeout_s: float | None,
    stall_s: float,
    report: Callable[[int, int], None],
    timings: dict[str, float],
    color: str = "NATIVE",
) -> tuple[np.ndarray, np.ndarray, str]:
    """(image (n, Di), audio (n, Da), audio_warning) for every window; NvdecError where NVDEC cannot read the film."""
    import torch

    from detector.decode.nvdec import cuda_device, iter_window_pictures

    n = info.window_count
    device = cuda_device(nets.device)
    image_dim, audio_dim = nets.dims
    image_out = torch.empty((n, image_dim), dtype=torch.float32, device=device)
    audio_out = torch.empty((n, audio_dim), dtype=torch.float32, device=device)
    sound = _AudioThread(path, info=info, nets=nets, device=device, out=audio_out, batch_size=batch_size, timeout_s=timeout_s,
                         stall_s=stall_s)
    sound.start()
    done = 0
    try:
        waited = time.perf_counter()
        pictures = iter_window_pictures(path, info=info, decoders=choice.decoders, chunk=batch_size, device=device,
                                        color=color)
        try:
            for start, frames in pictures:
                now = time.perf_counter()
                timings["decode_wait"] += now - waited
                images = frames.permute(0, 3, 1, 2).float().div_(255.0)
                if channel_order == "BGR":
                    images = images.flip(1)
                images = ((images - nets.mean) / nets.std).to(nets.dtype).contiguous(memory_format=torch.channels_last)
                image_out[start:start + len(frames)] = nets.image_net(images).float()
                done += len(frames)
                timings["image"] += time.perf_counter() - now
                report(min(done, sound.done), n)
                waited = time.perf_counter()
        finally:
            pictures.close()
        waited = time.perf_counter()
        while sound.is_alive():
            sound.join(timeout=0.5)
            report(min(done, sound.done), n)
        timings["audio_wait"] = time.perf_counter() - waited
    finally:
        sound.stop.set()
        sound.join(timeout=30)
    if sound.error is not None:
        raise sound.error
    timings["audio"] = sound.busy_s
    torch.cuda.synchronize(device)
    started = time.perf_counter()
    image, audio = image_out.cpu().numpy(), audio_out.cpu().numpy()  # the host's one copy
    timings["to_host"] = time.perf_counter() - started
    report(n, n)
    return image, audio, sound.warning


class _AudioThread(threading.Thread):
    """The film's sound, window batch by batch: ffmpeg on the CPU, log-mel and the audio network on the GPU."""

    def __init__(self, path: Path, *, info: MediaInfo, nets: "Backbones", device, out, batch_size: int,
                 timeout_s: float | None, stall_s: float) -> None:
        super().__init__(name="embed-audio", daemon=True)
        self.path, self.info, self.nets, self.device, self.out = path, info, nets, device, out
        self.batch_size, self.timeout_s, self.stall_s = batch_size, timeout_s, stall_s
        self.stop = threading.Event()
        self.done = 0
        self.busy_s = 0.0
        self.warning = ""
        self.error: BaseException | None = None

    def run(self) -> None:
        import torch

        try:
            torch.cuda.set_device(self.device)
            batches = iter_window_batches(self.path, info=self.info, batch_size=self.batch_size,
                                          timeout_s=self.timeout_s, stall_s=self.stall_s, video=False)
            try:
                with torch.inference_mode():
                    for batch in batches:
                        if self.stop.is_set():
                            return
                        started = time.perf_counter()
                        self.warning = batch.audio_warning or self.warning
                        waves = torch.from_numpy(batch.audio).to(self.device)
                        patches = self.nets.log_mel(waves).to(self.nets.dtype)
                        k = batch.start
                        self.out[k:k + len(batch)] = self.nets.audio_net(patches).float()
                        self.done = k + len(batch)
                        self.busy_s += time.perf_counter() - started
            finally:
                batches.close()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, which raises it
            self.error = exc
