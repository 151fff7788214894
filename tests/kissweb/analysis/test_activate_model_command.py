from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from kissweb.analysis.models import Analysis, ModelVersion

pytestmark = pytest.mark.django_db


def test_activate_model_registers_activates_and_queues_a_rescore(make_movie, embedder, model_file, capsys):
    from kissweb.analysis import pipeline, services

    movie = make_movie()
    pipeline.analysis_run(analysis_id=services.analysis_request(movie=movie).pk)

    call_command("activate_model", str(model_file()), "--scene-type", "kissing", "--name", "cli model")

    version = ModelVersion.objects.get(is_active=True)
    assert version.name == "cli model" and version.scene_type.slug == "kissing"
    assert Analysis.objects.filter(movie=movie, run__kind="rescore", run__status="queued").exists()
    assert "1 movie(s) will be re-scored" in capsys.readouterr().out


def test_activate_model_refuses_a_bad_file_with_the_reason(tmp_path):
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"nothing useful")
    with pytest.raises(CommandError, match="not a usable model file"):
        call_command("activate_model", str(junk), "--scene-type", "kissing")
    with pytest.raises(CommandError, match="no scene type 'dancing'"):
        call_command("activate_model", str(junk), "--scene-type", "dancing")
    assert not ModelVersion.objects.exists()
