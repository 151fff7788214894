"""Per-second embeddings of a movie: one streaming decode pass, batched inference overlapping the decode."""

from __future__ import annotations

import contextlib
import os
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from detector.backbones import BACKBONE_DIMS, CHANNEL_ORDERS, MODEL_FILE_SETS, SET_NAMES, SETS
from detector.decode import DEFAULT_STALL_S, DecodeChoice, choose_backend, iter_window_batches, probe
from detector.errors import DetectorError

__all__ = ["BACKBONE_DIMS", "Embeddings", "embed_video", "resolve_backbone_set"]

CPU_MICRO_BATCH = 16

if TYPE_CHECKING:
    import torch

    from detector.head import SceneModel


@dataclass
class Embeddings:
    """Window k = [k, k + 1) s: image[k] (Di) and audio[k] (Da) float32; times_s[k] = k.

    (backbone_set, backbone_digest) say which networks made them (detector.digest): embeddings are interchangeable
    only when both are equal. audio_warning is empty, or says why (part of) the audio was analysed as silence
    because the film's audio track could not be decoded.
    """

    image: np.ndarray
    audio: np.ndarray
    times_s: np.ndarray
    backbone_set: str
    duration_s: float
    timings_s: dict[str, float] = field(default_factory=dict)
    precision: str = "float32"
    backbone_digest: str = ""
    channel_order: str = "RGB"
    audio_warning: str = ""
    looks: dict[str, np.ndarray] = field(default_factory=dict)  # look name -> image embeddings (training only)
    decoding: dict = field(default_factory=dict)  # DecodeChoice.to_json(): the backend that read the pictures, why

    def features(self) -> np.ndarray:
        """(n, Di + Da) float32: the paper's concatenation, image first."""
        return np.concatenate([self.image, self.audio], axis=1).astype(np.float32, copy=False)


def resolve_backbone_set(backbones: str = "auto") -> str:
    """A name of detector.backbones.SETS; "auto" is the first of AUTO_ORDER whose weights are present (and
    verified), else its last (never "published", whose weights are inside a model file)."""
    if backbones in SET_NAMES:
        return backbones
    if backbones != "auto":
        raise DetectorError(f"Unknown backbone set {backbones!r}; choose auto, {', '.join(SET_NAMES)}.")
    from detector.weights import auto_backbone_set

    return auto_backbone_set()


def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (AVX-512 BF16 or AMX); elsewhere bf16 would be slower."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def resolve_precision(precision: str, *, backbone_set: str, device_type: str) -> str:
    """"float32" or "bfloat16". auto: bfloat16 for the paper set on a CPU with native bf16, else float32.

    bf16 changes the paper set's embeddings by about 0.4 % (relative L2) and runs ~2x faster on such CPUs; the
    offline set stays float32 (EfficientNet-Lite's depthwise layers drift ~2 % in bf16 and are cheap anyway), and
    so does the published set, so that its scores equal the published model's forward pass.
    """
    precision = os.environ.get("KISSWEB_EMBED_PRECISION", precision) if precision == "auto" else precision
    if precision not in ("auto", "float32", "bfloat16"):
        raise DetectorError(f"precision must be auto, float32 or bfloat16, not {precision!r}.")
    if precision != "auto":
        return precision
    if device_type == "cpu" and backbone_set in SETS and SETS[backbone_set].cpu_bfloat16 and cpu_has_native_bf16():
        return "bfloat16"
    return "float32"


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _model_settings(
    model: "SceneModel | str | os.PathLike", backbones: str | None, channel_order: str | None, random_init: bool | None
) -> tuple["SceneModel", str, str, bool]:
    """The model's backbone set, channel order and random_init; an explicit argument may only repeat them."""
    from detector.head import SceneModel, load_model

    if not isinstance(model, SceneModel):
        model = load_model(model)
    name = model.backbone_set
    if backbones not in (None, "auto", name):
        raise DetectorError(
            f"The model was trained on {name!r} features, so it cannot score {backbones!r} embeddings; "
            f"leave the backbone set out or pass {name!r}."
        )
    if channel_order not in (None, model.channel_order):
        raise DetectorError(f"The model was trained on {model.channel_order} frames, not {channel_order}.")
    if random_init is None:
        random_init = model.random_init_backbones and not model.carries_backbones
    if random_init and model.carries_backbones:
        raise DetectorError(f"The {name!r} backbones are the model file's own tensors; random_init does not apply.")
    return model, name, model.channel_order, bool(random_init)


def embed_video(
    path: str | os.PathLike,
    *,
    backbones: str | None = "auto",
    model: "SceneModel | str | os.PathLike | None" = None,
    device: str | None = None,
    random_init: bool | None = None,
    batch_size: int = 32,
    progress: Callable[[int, int], None] | None = None,
    channel_order: str | None = None,
    timeout_s: float | None = None,
    stall_s: float = DEFAULT_STALL_S,
    exact_frames: bool = False,
    precision: str = "auto",
    looks: Sequence[str] = (),
    decoder: str | None = None,
    decoders: int | None = None,
) -> Embeddings:
    """Embed every 1-second window of a movie with a backbone set.

    model (a SceneModel from load_model, or a model file): embed exactly as that model needs: its backbone set, its
    channel order, and for a `published` model its own backbones read from its file (checked against the card's
    digest). `backbones`, `channel_order` and `random_init` may then be left out or only repeat the model's.
    Without a model: `backbones` is auto or a built-in set (published needs its model), channel_order RGB, random_init
    False. The result's (backbone_set, backbone_digest) equal the model's (SceneModel.backbone_digest).

    progress(done, total) is called before the first window, after each image micro-batch (done unchanged, a
    heartbeat) and after each batch, so well within every ~2 s of work on a CPU; an exception it raises stops
    the decoders and propagates. channel_order="BGR" swaps the frame's channels before normalising, reproducing the
    published code's mistake for its reference model. exact_frames=True decodes every H.264 frame so window k's
    picture is exactly the last frame before k + 1; the default skips non-reference frames (about 40% less decode
    work; the picture may then be one or two frames earlier, see detector.decode.FAST_H264_OPTIONS).
    An audio track that exists but cannot be decoded is analysed as silence and said so in `audio_warning`.
    precision: see resolve_precision (KISSWEB_EMBED_PRECISION overrides "auto").
    looks: names from detector.looks.LOOKS; each also embeds the window's picture in that look (training data;
    one more image-network pass per look, same decode) into Embeddings.looks.
    A set with a face detector (`faces`) looks at the face-pair square of each picture (detector.faces), found on
    the CPU: it always decodes with ffmpeg, and timings_s["face_finding"] is the detector's share of timings_s["image"].
    decoder: auto (KISSWEB_DECODER, else auto: NVDEC where the networks run on CUDA and it reads the film), ffmpeg
    or nvdec; decoders: NVDEC decoders for this film (KISSWEB_NVDEC_DECODERS, else 4). Embeddings.decoding says
    which ran and why; a film NVDEC cannot read is decoded by ffmpeg (detector.decode.backends).
    Raises DecodeError / MissingWeightsError / ModelFileError / DetectorError.
    """
    import torch

    from detector.networks import load_backbones, load_model_backbones
    from detector.looks import check_looks

    looks = check_looks(looks)

    if model is not None:
        model, name, channel_order, random_init = _model_settings(model, backbones, channel_order, random_init)
    else:
        name = resolve_backbone_set(backbones or "auto")
        if name in MODEL_FILE_SETS:
            raise DetectorError(
                f"The {name!r} backbones are the tensors inside a {name} model file: pass model=FILE "
                "(on the command line, --model FILE)."
            )
        channel_order = channel_order or "RGB"
        random_init = bool(random_init)
    if channel_order not in CHANNEL_ORDERS:
        raise DetectorError(f"channel_order must be RGB or BGR, not {channel_order!r}.")
    if batch_size < 1:
        raise DetectorError(f"batch_size must be at least 1, not {batch_size}.")
    started = time.perf_counter()
    path = Path(path)
    info = probe(path)
    device = device or default_device()
    if random_init:
        warnings.warn(
            f"Backbone set {name!r} with RANDOM weights (random_init=True): the embeddings mean nothing; use this "
            "only for tests and benchmarks.", UserWarning, stacklevel=2,
        )
    device_type = torch.device(device).type
    precision = resolve_precision(precision, backbone_set=name, device_type=device_type)
    if model is not None and model.carries_backbones:
        nets = _warm(("model", model.backbone_digest, str(torch.device(device)), precision),
                     lambda: load_model_backbones(model, str(torch.device(device)), precision))
    else:
        nets = _warm((name, bool(random_init), str(torch.device(device)), precision),
                     lambda: load_backbones(name, str(torch.device(device)), bool(random_init), precision))
    choice = choose_backend(info, device_type=nets.device.type, requested=decoder, decoders=decoders)
    faces = SETS[name].face_detector is not None
    if choice.backend == "nvdec" and (looks or faces):
        why = "the training looks are drawn" if looks else "the faces set finds faces"
        choice = DecodeChoice("ffmpeg", f"fell back to ffmpeg: {why} on CPU pictures")
    n = info.window_count
    image_dim, audio_dim = nets.dims
    image_out = np.empty((n, image_dim), dtype=np.float32)
    audio_out = np.empty((n, audio_dim), dtype=np.float32)
    look_out = {name: np.empty((n, image_dim), dtype=np.float32) for name in looks}
    timings = {"probe_load": time.perf_counter() - started, "decode_wait": 0.0, "image": 0.0, "audio": 0.0}
    on_cuda = nets.device.type == "cuda"
    # on a CPU the networks see at most CPU_MICRO_BATCH windows at once: same speed, a third less peak memory
    micro = batch_size if on_cuda else min(batch_size, CPU_MICRO_BATCH)
    report = progress or (lambda done, total: None)
    report(0, n)
    audio_warning = ""
    if choice.backend == "nvdec":
        from detector.decode.nvdec import NvdecError
        from detector.embed_gpu import embed_nvdec

        try:
            with torch.inference_mode(), _deterministic_cudnn():
                image_out, audio_out, audio_warning = embed_nvdec(
                    path, info=info, nets=nets, choice=choice, channel_order=channel_order, batch_size=batch_size,
                    timeout_s=timeout_s, stall_s=stall_s, report=report, timings=timings,
                )
        except NvdecError as exc:
            choice = DecodeChoice("ffmpeg", f"fell back to ffmpeg: {exc}")
            timings.update(decode_wait=0.0, image=0.0, audio=0.0)
            report(0, n)
    if choice.backend == "ffmpeg":
        audio_warning = _embed_ffmpeg(path, info=info, nets=nets, channel_order=channel_order, batch_size=batch_size,
                      micro=micro, timeout_s=timeout_s, stall_s=stall_s, exact_frames=exact_frames, looks=looks,
                      faces=faces, image_out=image_out, audio_out=audio_out, look_out=look_out, report=report,
                      timings=timings)

    timings["total"] = time.perf_counter() - started
    return Embeddings(
        image=image_out, audio=audio_out, times_s=np.arange(n, dtype=np.float64), backbone_set=name,
        duration_s=float(info.duration_s), timings_s=timings, precision=precision, backbone_digest=nets.digest,
        channel_order=channel_order, audio_warning=audio_warning, looks=look_out, decoding=choice.to_json(),
    )


def _embed_ffmpeg(path, *, info, nets, channel_order, batch_size, micro, timeout_s, stall_s, exact_frames, looks,
                  faces, image_out, audio_out, look_out, report, timings) -> str:
    """The CPU decode path: one ffmpeg pass for pictures and sound, the networks batch by batch (any device).
    faces: the pictures are the face-pair squares of the whole frames (detector.faces), not the centre crops."""
    import torch

    from detector.faces import FaceFinder, face_pair_crops
    from detector.looks import LOOKS

    n = info.window_count
    on_cuda = nets.device.type == "cuda"
    with contextlib.ExitStack() as stack:
        stack.enter_context(torch.inference_mode())
        if on_cuda:
            stack.enter_context(_deterministic_cudnn())
        finder = stack.enter_context(FaceFinder()) if faces else None
        batches = stack.enter_context(contextlib.closing(iter_window_batches(
            path, info=info, batch_size=batch_size, timeout_s=timeout_s, stall_s=stall_s, fast=not exact_frames,
            hwaccel=os.environ.get("KISSWEB_FFMPEG_HWACCEL") if on_cuda else None, whole_frame=faces,
        )))
        pinned: dict[str, torch.Tensor] = {}
        audio_warning = ""
        waited = time.perf_counter()
        for batch in batches:
            audio_warning = batch.audio_warning or audio_warning
            now = time.perf_counter()
            timings["decode_wait"] += now - waited
            b, k = len(batch), batch.start
            if finder is not None:
                pictures = face_pair_crops(batch.frames, finder)
                timings["face_finding"] = timings.get("face_finding", 0.0) + time.perf_counter() - now
            else:
                pictures = batch.frames
            views = [(image_out, pictures)]
            views += [(look_out[name], LOOKS[name](pictures, k)) for name in looks]
            for out, view in views:
                frames = _to_device(view, "frames", pinned, nets.device)
                images = frames.permute(0, 3, 1, 2).float().div_(255.0)
                if channel_order == "BGR":
                    images = images.flip(1)
                images = ((images - nets.mean) / nets.std).to(nets.dtype).contiguous(
                    memory_format=torch.channels_last)
                for i in range(0, b, micro):
                    out[k + i:k + min(b, i + micro)] = nets.image_net(images[i:i + micro]).float().cpu().numpy()
                    report(k, n)  # a heartbeat: done counts windows with both embeddings
            timings["image"] += time.perf_counter() - now

            now = time.perf_counter()
            waves = _to_device(batch.audio, "audio", pinned, nets.device)
            patches = nets.log_mel(waves).to(nets.dtype)
            for i in range(0, b, micro):
                audio_out[k + i:k + min(b, i + micro)] = nets.audio_net(patches[i:i + micro]).float().cpu().numpy()
            timings["audio"] += time.perf_counter() - now
            report(k + b, n)
            waited = time.perf_counter()
    return audio_warning


_WARM: dict[tuple, object] = {}
_WARM_LOCK = threading.Lock()


def _warm(key: tuple, load: Callable[[], object]):
    """On CUDA the networks are loaded once per process and kept (a GPU worker warms them once, not per film);
    on the CPU they are loaded per call, as before."""
    if not key[-2].startswith("cuda"):
        return load()
    with _WARM_LOCK:
        if not _WARM:
            _bound_gpu_memory()
        if key not in _WARM:
            _WARM[key] = load()
        return _WARM[key]


def _bound_gpu_memory() -> None:
    """KISSWEB_GPU_MEMORY_FRACTION (0-1): the share of the GPU's memory this process's tensors may take, so that a
    GPU worker's processes together stay within the device (decoder surfaces and CUDA contexts come on top)."""
    raw = os.environ.get("KISSWEB_GPU_MEMORY_FRACTION", "").strip()
    if not raw:
        return
    import torch

    try:
        fraction = float(raw)
    except ValueError:
        raise DetectorError(f"KISSWEB_GPU_MEMORY_FRACTION must be a number between 0 and 1, not {raw!r}.") from None
    if not 0 < fraction <= 1:
        raise DetectorError(f"KISSWEB_GPU_MEMORY_FRACTION must be between 0 and 1, not {fraction}.")
    torch.cuda.set_per_process_memory_fraction(fraction)


def _to_device(array: np.ndarray, key: str, pinned: dict, device) -> "torch.Tensor":
    import torch

    tensor = torch.from_numpy(array)
    if device.type != "cuda":
        return tensor
    # one pinned staging buffer per kind, reused: the previous batch's copy has finished, as its results were
    # read back to the CPU before this batch began
    buffer = pinned.get(key)
    if buffer is None or buffer.shape[0] < tensor.shape[0]:
        buffer = pinned[key] = torch.empty(tensor.shape, dtype=tensor.dtype).pin_memory()
    staged = buffer[: tensor.shape[0]]
    staged.copy_(tensor)
    return staged.to(device, non_blocking=True)


@contextlib.contextmanager
def _deterministic_cudnn():
    import torch

    saved = torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic
    torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = False, True
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = saved
