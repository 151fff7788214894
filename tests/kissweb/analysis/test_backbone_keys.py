"""The app's backbone keys agree with the detector's digests, so stored embeddings match the models that need them."""

from __future__ import annotations

import pytest

import detector
from kissweb.analysis.backbones import key_of_card, standard_digest


@pytest.mark.parametrize("backbone_set", ["paper", "offline"])
def test_standard_digests_are_the_detectors(backbone_set):
    assert standard_digest(backbone_set) == detector.builtin_digest(backbone_set)


def test_a_published_model_file_keys_by_its_own_digest(tmp_path):
    from tests.published_model import write_published_pickle

    _, pickle_path = write_published_pickle(tmp_path / "model.pkl", seed=3)
    from detector.reference import import_reference_file

    model = detector.load_model(import_reference_file(pickle_path, tmp_path / "published.safetensors"))
    key = key_of_card(model.card)
    assert (key.backbone_set, key.digest) == ("published", model.backbone_digest)
    assert model.backbone_digest == detector.tensors_digest(detector.load_backbone_tensors(model))


def test_the_apps_backbone_sets_are_the_detectors_registry():
    from detector.backbones import SETS
    from kissweb.analysis.backbones import STANDARD_SETS, carries_backbones
    from kissweb.analysis.models import BackboneSet, ModelVersion, MovieEmbedding

    assert list(BackboneSet.values) == list(SETS)
    for model in (ModelVersion, MovieEmbedding):
        assert [value for value, _ in model._meta.get_field("backbone_set").choices] == list(SETS)
    assert set(STANDARD_SETS) == {name for name, info in SETS.items() if info.weights is not None}
    assert [name for name in SETS if carries_backbones(name)] == ["published"]
