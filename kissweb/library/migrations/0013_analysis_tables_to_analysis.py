"""The analysis pipeline's tables moved to kissweb.analysis (its 0001): a move of Django's state only, the tables stay.
Segments and annotations point at them there."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('analysis', '0001_tables_from_library'),
        ('library', '0012_movie_from_url'),
        ('training', '0004_model_version_in_analysis'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='segment',
                    name='analysis',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='segments', to='analysis.analysis'),
                ),
                migrations.RemoveField(
                    model_name='scoretrack',
                    name='analysis',
                ),
                migrations.RemoveField(
                    model_name='modelversion',
                    name='created_by',
                ),
                migrations.RemoveField(
                    model_name='modelversion',
                    name='scene_type',
                ),
                migrations.AlterField(
                    model_name='segment',
                    name='model_version',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='segments', to='analysis.modelversion'),
                ),
                migrations.RemoveField(
                    model_name='scoretrack',
                    name='model_version',
                ),
                migrations.AlterField(
                    model_name='annotation',
                    name='model_version',
                    field=models.ForeignKey(blank=True, help_text='The model that produced the reviewed segment.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='reviews', to='analysis.modelversion'),
                ),
                migrations.RemoveField(
                    model_name='movieembedding',
                    name='movie',
                ),
                migrations.RemoveField(
                    model_name='scoretrack',
                    name='movie',
                ),
                migrations.RemoveField(
                    model_name='scoretrack',
                    name='scene_type',
                ),
                migrations.DeleteModel(
                    name='Analysis',
                ),
                migrations.DeleteModel(
                    name='ModelVersion',
                ),
                migrations.DeleteModel(
                    name='MovieEmbedding',
                ),
                migrations.DeleteModel(
                    name='ScoreTrack',
                ),
            ],
            database_operations=[],  # the tables, their rows and constraints stay as they are
        ),
    ]
