"""Scene types start with the measured short-scene default (bench/RESULTS-scenes.md) instead of the paper's 10 s.

Scene types still on the paper's settings as they came (cut 0.5, 10 s, share 0.7: nobody saved anything else)
move to the new default, and where the library has films a re-derivation of their scenes is queued as a Run row (the
sweeper hands a queued run that no broker has seen to the workers), so the stored scenes follow the settings. Types someone tuned keep their
settings. The numbers are written here, not imported: a migration must not depend on live code.
"""

from django.db import migrations, models

PAPER = {"cut": 0.5, "min_frames": 10, "threshold": 0.7}
SHORT = {"cut": 0.5, "min_frames": 2, "threshold": 0.7}
ACTIVE = ("queued", "running")


def _move(apps, source: dict, target: dict) -> None:
    SceneType = apps.get_model("library", "SceneType")
    Movie = apps.get_model("library", "Movie")
    Run = apps.get_model("jobs", "Run")
    library_has_films = Movie.objects.exists()  # a fresh install has no scenes to re-derive
    for scene_type in SceneType.objects.filter(**source):
        for name, value in target.items():
            setattr(scene_type, name, value)
        scene_type.save(update_fields=list(target))
        if not library_has_films:
            continue
        lock_key = f"rederive:scene_type:{scene_type.pk}"
        if not Run.objects.filter(lock_key=lock_key, status__in=ACTIVE).exists():
            Run.objects.create(
                kind="rederive", subject_type="scene_type", subject_id=scene_type.pk, lock_key=lock_key,
                stage="waiting for a worker: new default scene settings",
            )


def forwards(apps, schema_editor):
    _move(apps, PAPER, SHORT)


def backwards(apps, schema_editor):
    _move(apps, SHORT, PAPER)


class Migration(migrations.Migration):

    dependencies = [
        ("library", "0013_analysis_tables_to_analysis"),
        ("jobs", "0001_run"),
    ]

    operations = [
        migrations.AlterField(
            model_name="scenetype",
            name="min_frames",
            field=models.PositiveIntegerField(default=2),
        ),
        migrations.RunPython(forwards, backwards),
    ]
