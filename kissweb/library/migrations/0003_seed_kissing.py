from django.db import migrations


def seed(apps, schema_editor):
    SceneType = apps.get_model("library", "SceneType")
    SceneType.objects.get_or_create(
        slug="kissing",
        defaults={"name": "Kissing", "description": "Two people kissing (Ziai, 2019)."},
    )


class Migration(migrations.Migration):
    dependencies = [("library", "0002_segment_rules")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
