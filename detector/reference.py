"""Import of the published project's `model.pkl` (a whole pickled KissingDetector) without running its pickle code.

The file is a torch.save'd module: ResNet-18 with fc = Identity (`conv`), VGGish (`vggish`) and
`combined = Linear(640, 2)` over torch.cat((image 512, audio 128)). It was trained on OpenCV BGR frames taken as RGB.
Its import is one self-contained model file of backbone set `published`: head, card and the fine-tuned trunks.

Unpickling runs whatever callables a file names, so the unpickler here admits only: torch's tensor and parameter
rebuild functions, OrderedDict/set, torch dtypes/devices/sizes, and module *classes* (torch.nn, torchvision models,
the project's KissingDetector/VGGish under any module path), which are replaced by inert placeholders that only keep
the state they are given: no module code runs. Anything else (os.system, builtins.eval, subprocess...) is refused
with ModelFileError before it is called.
"""

from __future__ import annotations

import pickle
import types
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from detector.backbones import SETS
from detector.digest import tensors_digest
from detector.errors import ModelFileError
from detector.head import SceneModel, make_card, save_model
from detector.weights import sha256_of

PROJECT_CLASSES = frozenset({"KissingDetector", "VGGish", "VGG", "VGGishParams", "Postprocessor"})
MODULE_CLASS_PREFIXES = ("torch.nn.modules.", "torchvision.models.")
ALLOWED_FUNCTIONS = frozenset({
    ("torch._utils", "_rebuild_tensor"),
    ("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_parameter"),
    ("torch._utils", "_rebuild_parameter_with_state"),
    ("collections", "OrderedDict"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("torch", "Size"),
    ("torch", "device"),
})
PYTHON2_MODULE_NAMES = {"__builtin__": "builtins", "copy_reg": "copyreg"}
PUBLISHED = SETS["published"]  # the set this import makes (detector.backbones)
IMAGE_DIM, AUDIO_DIM = PUBLISHED.dims


class InertModule:
    """Stands in for a module class of the pickle: created without running any code, keeps only its state."""

    source_name = "?"

    def __new__(cls, *args: Any, **kwargs: Any) -> "InertModule":
        return object.__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2:  # (dict, slots)
            state = {**(state[0] or {}), **(state[1] or {})}
        self.state = state if isinstance(state, dict) else {"value": state}

    def children(self) -> dict[str, Any]:
        return dict(getattr(self, "state", {}).get("_modules") or {})

    def tensors(self) -> dict[str, Any]:
        state = getattr(self, "state", {})
        return {**(state.get("_parameters") or {}), **(state.get("_buffers") or {})}


_placeholders: dict[str, type[InertModule]] = {}


def _placeholder(module: str, name: str) -> type[InertModule]:
    key = f"{module}.{name}"
    if key not in _placeholders:
        _placeholders[key] = type(name, (InertModule,), {"source_name": key})
    return _placeholders[key]


class RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler that resolves only the globals a pickled KissingDetector needs; see the module docstring."""

    def find_class(self, module: str, name: str) -> Any:
        module = PYTHON2_MODULE_NAMES.get(module, module)  # protocol-2 pickles (torch.save's) name __builtin__
        if (module, name) in ALLOWED_FUNCTIONS:
            return super().find_class(module, name)
        if module == "torch" and _is_dtype(name):
            return super().find_class(module, name)
        if name[:1].isupper() and "." not in name:
            if name in PROJECT_CLASSES or module.startswith(MODULE_CLASS_PREFIXES) or module == "torch.nn":
                return _placeholder(module, name)
        raise pickle.UnpicklingError(f"refused to load {module}.{name}")


def _is_dtype(name: str) -> bool:
    import torch

    return isinstance(getattr(torch, name, None), torch.dtype)


def _restricted_pickle_module() -> types.ModuleType:
    module = types.ModuleType("detector_restricted_pickle")
    module.Unpickler = RestrictedUnpickler  # type: ignore[attr-defined]
    module.load = lambda file, **kwargs: RestrictedUnpickler(file, **kwargs).load()  # type: ignore[attr-defined]
    module.__version__ = "1"  # type: ignore[attr-defined]
    return module


def load_reference_pickle(path: str | Path) -> InertModule:
    """The pickled KissingDetector as inert placeholders holding tensors; ModelFileError if unsafe or unreadable."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"The reference model file {path} does not exist.")
    try:
        with warnings.catch_warnings():
            # the legacy (pre-1.6) format compares module source code, which placeholders do not have
            warnings.filterwarnings("ignore", message="Couldn't retrieve source code")
            root = torch.load(
                path, map_location="cpu", weights_only=False, pickle_module=_restricted_pickle_module()
            )
    except pickle.UnpicklingError as exc:
        if "refused to load" in str(exc):
            raise ModelFileError(
                f"{path} is not a plain pickled KissingDetector: it asks to run {str(exc).split()[-1]}, which is "
                "refused (unpickling it could run arbitrary code). Nothing in it was executed."
            ) from exc
        raise ModelFileError(f"{path} is not a readable PyTorch pickle ({exc}).") from exc
    except ModelFileError:
        raise
    except Exception as exc:  # torch raises RuntimeError/EOFError/... for damaged archives
        raise ModelFileError(f"{path} is not a readable PyTorch model file ({type(exc).__name__}: {exc}).") from exc
    if not isinstance(root, InertModule):
        raise ModelFileError(f"{path} holds a {type(root).__name__}, not a pickled KissingDetector module.")
    return root


def reference_tensors(root: InertModule) -> dict[str, np.ndarray]:
    """Every parameter and buffer of the pickled module tree, by dotted name (as in a state_dict)."""
    import torch

    found: dict[str, np.ndarray] = {}

    def walk(node: InertModule, prefix: str) -> None:
        for name, value in node.tensors().items():
            if isinstance(value, torch.Tensor):
                found[prefix + name] = value.detach().cpu().numpy()
        for name, child in node.children().items():
            if isinstance(child, InertModule):
                walk(child, f"{prefix}{name}.")

    walk(root, "")
    return found


def import_reference_model(
    path: str | Path, *, scene_type: str = "kissing", source: dict[str, Any] | None = None
) -> tuple[SceneModel, dict[str, np.ndarray]]:
    """The published model as our SceneModel (backbone set "published", channel order BGR) and its backbones'
    tensors (state-dict names `conv.*` ResNet-18, `vggish.*` VGGish), checked to fit those networks.

    source: extra facts for the card's `training.download` (e.g. URL and date of a download).
    """
    from detector.networks import published_networks

    path = Path(path)
    root = load_reference_pickle(path)
    tensors = reference_tensors(root)
    weight = tensors.get("combined.weight")
    bias = tensors.get("combined.bias")
    if weight is None or bias is None:
        raise ModelFileError(
            f"{path} has no `combined` linear layer (found {len(tensors)} tensors: "
            f"{', '.join(sorted(tensors)[:8])}...); it is not the published KissingDetector."
        )
    if weight.shape != (2, IMAGE_DIM + AUDIO_DIM) or bias.shape != (2,):
        raise ModelFileError(
            f"{path}: `combined` is {weight.shape}/{bias.shape}; the published model has Linear(640, 2) over "
            "512 image (ResNet-18) + 128 audio (VGGish) features."
        )
    backbones = {name: array for name, array in tensors.items() if not name.startswith("combined.")}
    try:
        published_networks(backbones)
    except ModelFileError as exc:
        raise ModelFileError(f"{path}: {exc}; it is not the published KissingDetector.") from None
    training = {
        "source": "reference model.pkl of Ziai (2019), github.com/amirziai/kissing-detector",
        "imported_from": path.name,
        "source_sha256": sha256_of(path),
        "class": getattr(root, "source_name", "?"),
        "feature_order": "image (ResNet-18, 512) then audio (VGGish, 128), as torch.cat((conv, vggish))",
        "note": "trained on BGR frames taken as RGB: fed BGR frames, as it was trained",
    }
    if source:
        training["download"] = dict(source)
    card = make_card(
        scene_type=scene_type,
        backbone_set=PUBLISHED.name,
        image_dim=IMAGE_DIM,
        audio_dim=AUDIO_DIM,
        channel_order=PUBLISHED.channel_order,
        training=training,
        metrics={"reported_by_paper": {"validation_f1": 0.95}},
        backbones={
            "set": PUBLISHED.name,
            "sha256": tensors_digest(backbones),
            "digest_of": "the backbone tensors in this file (detector.digest.tensors_digest)",
            "tensors": len(backbones),
            "fine_tuned": True,
            "image": "the published model's own fine-tuned ResNet-18 trunk (conv.*, fc = Identity, 512-d)",
            "audio": "the published model's own VGGish (vggish.*, 128-d embedding before PCA)",
            "stored_as": "backbone.conv.* and backbone.vggish.* tensors of this file",
        },
    )
    model = SceneModel(weight=weight.astype(np.float32), bias=bias.astype(np.float32), card=card)
    return model, backbones


def import_reference_file(
    source: str | Path, output: str | Path, *, scene_type: str = "kissing", download: dict[str, Any] | None = None
) -> Path:
    """Convert `source` (model.pkl) to one self-contained model file at `output`: the head, the card and the
    published backbones' own tensors (backbone set "published"). Returns the model file's path."""
    model, backbones = import_reference_model(source, scene_type=scene_type, source=download)
    return save_model(model, output, backbone_tensors=backbones)
