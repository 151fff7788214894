"""detector.backbones is the one registry of backbone sets: everything else reads its facts from there."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from detector import backbones
from detector.__main__ import build_parser
from detector.backbones import BACKBONE_DIMS, MODEL_FILE_SETS, SETS
from detector.digest import builtin_digest
from detector.errors import DetectorError
from detector.head import make_card
from detector.train import default_recipe

DETECTOR = Path(backbones.__file__).parent


def test_the_sets_and_their_facts():
    assert BACKBONE_DIMS == {"paper": (512, 128), "offline": (1280, 128), "lite1": (1280, 128), "faces": (1280, 128),
                             "published": (512, 128)}
    assert MODEL_FILE_SETS == ("published",)
    assert {name: info.channel_order for name, info in SETS.items()} == {
        "paper": "RGB", "offline": "RGB", "lite1": "RGB", "faces": "RGB", "published": "BGR"}
    assert {name: default_recipe(name) for name in SETS} == {
        "paper": "paper", "offline": "fewshot", "lite1": "fewshot", "faces": "fewshot", "published": "paper"}
    assert default_recipe("features of no set") == "fewshot"
    with pytest.raises(DetectorError,
                       match="Unknown backbone set 'nope'; choose one of paper, offline, lite1, faces, published"):
        backbones.backbone_set("nope")


def test_digests_of_the_pinned_weights_do_not_change():
    # stored embeddings are keyed by these: a change would orphan every movie's embeddings
    assert builtin_digest("paper") == "c7d9d92d53323b5fb85091fd230dd5f7d7096b45f0e6b95d665ec0013afaf002"
    assert builtin_digest("offline") == "f3a84771830fe6ab09a7dc0317e16daec639a2f5e1fa636b721e09e566471c79"
    assert builtin_digest("offline", random_init=True) == (
        "104942d1545dce63c9a524c243d37613760bc7d6d16e5a90f53f6a781134dccf")
    assert builtin_digest("lite1") == "7dfed9c660cfddb0df9254a09fd5f5b21ec979d79361b61d7f0389bd112277d0"
    # the offline set's network with BlazeFace's file beside it: another digest, so no embedding is mixed up
    assert builtin_digest("faces") == "f49de11e16b04dc86c74694a72d05d183ff672ed7c7ad25564bef299eadac4b4"


def test_model_cards_carry_their_sets_preprocessing():
    offline = make_card(scene_type="k", backbone_set="offline", image_dim=1280, audio_dim=128)["preprocessing"]
    assert "(x - 127) / 128" in offline["image"] and "ImageNet" not in offline["image"]
    paper = make_card(scene_type="k", backbone_set="paper", image_dim=512, audio_dim=128)["preprocessing"]
    assert "ImageNet mean/std" in paper["image"] and paper["channel_order"] == "RGB"


def test_the_command_line_offers_the_registered_sets():
    import argparse

    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    offered = {
        name: next(a.choices for a in parser._actions if a.dest == "backbones")
        for name, parser in commands.items() if any(a.dest == "backbones" for a in parser._actions)
    }
    assert offered.pop("fetch-weights") == backbones.BUILTIN_SETS
    assert offered and all(list(choices) == [*SETS, "auto"] for choices in offered.values())


def test_the_registry_does_not_import_torch():
    code = "import detector.backbones, detector.digest, detector.weights, sys; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_no_other_detector_module_names_a_set_in_a_literal():
    """The registry's entries are the only place a set's name is written: besides the loaders' keys, only the
    published model's import names the set it makes, and "paper" is also the name of the paper's training recipe
    and of the paper's scene settings preset; "lite1" is also the EfficientNet variant's name."""
    allowed = {
        "networks.py": {"paper", "offline", "lite1", "faces", "published"}, "reference.py": {"published"},
        "train.py": {"paper"},
        "aggregate.py": {"paper"},
    }
    found = []
    for path in sorted(DETECTOR.glob("*.py")):
        if path.name == "backbones.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in SETS:
                if path.name in allowed and node.value in allowed[path.name]:
                    continue
                found.append(f"{path.name}:{node.lineno} {node.value!r}")
    assert found == []
