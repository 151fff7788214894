"""`manage.py train_scene_type SLUG`."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from kissweb.analysis.models import ModelVersion

pytestmark = pytest.mark.django_db


def test_the_command_trains_now_and_prints_metrics_json(labelled_library):
    out = io.StringIO()
    call_command("train_scene_type", "kissing", stdout=out)
    report = json.loads(out.getvalue())
    version = ModelVersion.objects.get(pk=report["model_version"])
    assert version.status == "ready" and report["metrics"]["f1"] == version.metrics["f1"] >= 0.95
    assert report["metrics"]["n_spans"] == 9 and report["file"].endswith(".safetensors")


def test_the_command_says_why_it_cannot_train(kissing):
    with pytest.raises(CommandError, match="2 more positive spans"):
        call_command("train_scene_type", "kissing")
    with pytest.raises(CommandError, match="No scene type 'fights'"):
        call_command("train_scene_type", "fights")
