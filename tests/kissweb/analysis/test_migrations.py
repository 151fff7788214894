"""The analysis tables' move from library to analysis changes Django's state only: every row, relation and id sequence
is where it was, read through the new app; the reverse gives library its models back."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

pytestmark = pytest.mark.slow  # migrates the test database back and forth

BEFORE = [("library", "0012_movie_from_url"), ("training", "0003_trainingrun_run"), ("analysis", None),
          ("contenttypes", "0002_remove_content_type_name")]
AFTER = [("library", "0013_analysis_tables_to_analysis"), ("training", "0004_model_version_in_analysis"),
         ("analysis", "0001_tables_from_library")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state([t for t in targets if t[1] is not None]).apps


def _migrate_to_latest():
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_analysis_tables_move_with_their_rows_and_back():
    try:
        apps = _migrate(BEFORE)
        User = apps.get_model("auth", "User")
        ContentType = apps.get_model("contenttypes", "ContentType")
        user = User.objects.create(username="old-timer")
        movie = apps.get_model("library", "Movie").objects.create(
            title="Old", original_filename="old.mp4", file="movies/old.mp4", size_bytes=1, sha256="b" * 64,
            duration_s=60.0, width=320, height=240, has_audio=True, uploaded_by=user,
        )
        scene_type, _ = apps.get_model("library", "SceneType").objects.get_or_create(
            slug="kissing", defaults={"name": "Kissing"}
        )
        version = apps.get_model("library", "ModelVersion").objects.create(
            scene_type=scene_type, name="v1", backbone_set="offline", backbone_digest="c" * 64, is_active=True,
            created_by=user,
        )
        run = apps.get_model("jobs", "Run").objects.create(
            kind="analyze", subject_type="movie", subject_id=movie.pk, lock_key=f"movie:{movie.pk}", status="succeeded",
            finished_at=timezone.now(),
        )
        analysis = apps.get_model("library", "Analysis").objects.create(
            run=run, movie=movie, backbone_set="offline", timings_s={"embed": 1.5}
        )
        analysis.model_versions.add(version)
        embedding = apps.get_model("library", "MovieEmbedding").objects.create(
            movie=movie, backbone_set="offline", backbone_digest="c" * 64, file="embeddings/e.npy", n_windows=60,
            image_dim=1280, audio_dim=128,
        )
        track = apps.get_model("library", "ScoreTrack").objects.create(
            movie=movie, scene_type=scene_type, model_version=version, analysis=analysis, scores=b"\0" * 240,
            n_windows=60,
        )
        segment = apps.get_model("library", "Segment").objects.create(
            movie=movie, scene_type=scene_type, start_s=1.0, end_s=12.0, confidence=0.9, source="detected",
            analysis=analysis, model_version=version,
        )
        review = apps.get_model("library", "Annotation").objects.create(
            movie=movie, scene_type=scene_type, start_s=1.0, end_s=12.0, label="positive", segment=segment,
            model_version=version, author=user,
        )
        training = apps.get_model("training", "TrainingRun").objects.create(
            scene_type=scene_type, model_version=version,
            run=apps.get_model("jobs", "Run").objects.create(
                kind="training", subject_type="scene_type", subject_id=scene_type.pk,
                lock_key=f"training:scene_type:{scene_type.pk}", status="succeeded", finished_at=timezone.now(),
            ),
        )
        content_type = ContentType.objects.get_or_create(app_label="library", model="modelversion")[0]

        apps = _migrate(AFTER)
        ModelVersion = apps.get_model("analysis", "ModelVersion")
        Analysis = apps.get_model("analysis", "Analysis")
        assert ModelVersion._meta.db_table == "library_modelversion"
        kept = ModelVersion.objects.get(pk=version.pk)
        assert (kept.name, kept.is_active, kept.created_by_id, kept.scene_type_id) == ("v1", True, user.pk,
                                                                                     scene_type.pk)
        moved = Analysis.objects.get(pk=analysis.pk)
        assert moved.run_id == run.pk and moved.timings_s == {"embed": 1.5}
        assert list(moved.model_versions.values_list("pk", flat=True)) == [version.pk]
        assert apps.get_model("analysis", "MovieEmbedding").objects.get(pk=embedding.pk).n_windows == 60
        assert apps.get_model("analysis", "ScoreTrack").objects.get(pk=track.pk).analysis_id == analysis.pk
        Segment = apps.get_model("library", "Segment")
        assert Segment.objects.filter(analysis__run_id=run.pk, model_version__name="v1").get().pk == segment.pk
        assert apps.get_model("library", "Annotation").objects.get(pk=review.pk).model_version.name == "v1"
        assert apps.get_model("training", "TrainingRun").objects.get(pk=training.pk).model_version.name == "v1"
        assert ContentType.objects.get(pk=content_type.pk).app_label == "analysis"
        newer = ModelVersion.objects.create(scene_type_id=scene_type.pk, name="v2", backbone_set="offline",
                                            backbone_digest="c" * 64)
        assert newer.pk > version.pk  # the id sequence carries on
        newer.delete()

        apps = _migrate(BEFORE)
        assert apps.get_model("library", "ModelVersion").objects.get(pk=version.pk).name == "v1"
        assert apps.get_model("library", "Analysis").objects.get(pk=analysis.pk).model_versions.count() == 1
        assert ContentType.objects.get(pk=content_type.pk).app_label == "library"
    finally:
        _migrate_to_latest()
