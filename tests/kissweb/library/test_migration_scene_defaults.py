"""Scene types on the paper's untouched settings move to the measured default (and back); tuned ones stay."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from detector.aggregate import PRESETS

pytestmark = pytest.mark.slow  # migrates the test database back and forth

BEFORE = [("library", "0013_analysis_tables_to_analysis")]
AFTER = [("library", "0014_scene_settings_short_default")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def _migrate_to_latest():
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def _settings(scene_type):
    return {"cut": scene_type.cut, "min_frames": scene_type.min_frames, "threshold": scene_type.threshold}


@pytest.mark.django_db(transaction=True)
def test_untouched_scene_types_move_to_the_default_and_their_scenes_are_re_derived():
    try:
        apps = _migrate(BEFORE)
        User = apps.get_model("auth", "User")
        Movie = apps.get_model("library", "Movie")
        SceneType = apps.get_model("library", "SceneType")
        user = User.objects.create(username="old-timer")
        Movie.objects.create(
            title="Old", original_filename="old.mp4", file="movies/old.mp4", size_bytes=1, sha256="b" * 64,
            duration_s=60.0, width=320, height=240, has_audio=True, uploaded_by=user,
        )
        kissing, _ = SceneType.objects.get_or_create(slug="kissing", defaults={"name": "Kissing"})
        SceneType.objects.filter(pk=kissing.pk).update(**PRESETS["paper"].settings())
        tuned = SceneType.objects.create(slug="hug", name="Hug", cut=0.6, min_frames=10, threshold=0.7)

        apps = _migrate(AFTER)
        SceneType = apps.get_model("library", "SceneType")
        Run = apps.get_model("jobs", "Run")
        assert _settings(SceneType.objects.get(pk=kissing.pk)) == PRESETS["default"].settings()
        assert _settings(SceneType.objects.get(pk=tuned.pk)) == {"cut": 0.6, "min_frames": 10, "threshold": 0.7}
        queued = Run.objects.get(lock_key=f"rederive:scene_type:{kissing.pk}")
        assert (queued.kind, queued.status, queued.subject_id) == ("rederive", "queued", kissing.pk)
        assert not Run.objects.filter(subject_type="scene_type", subject_id=tuned.pk).exists()
        Run.objects.filter(pk=queued.pk).delete()  # as if a worker had done it

        apps = _migrate(BEFORE)
        SceneType = apps.get_model("library", "SceneType")
        assert _settings(SceneType.objects.get(pk=kissing.pk)) == PRESETS["paper"].settings()
        assert apps.get_model("jobs", "Run").objects.filter(lock_key=f"rederive:scene_type:{kissing.pk}").exists()
    finally:
        _migrate_to_latest()
