"""The analysis pipeline's tables (model versions, analyses, embeddings, score tracks) now belong to this app. A move of
Django's state only: the tables keep their names (db_table), rows, sequences and constraints; library 0013 lets go
of them. The content types follow, so admin history and permissions keep pointing at the same rows."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


MOVED = ("modelversion", "analysis", "movieembedding", "scoretrack")


def _relabel(apps, *, old: str, new: str) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    taken = set(ContentType.objects.filter(app_label=new, model__in=MOVED).values_list("model", flat=True))
    ContentType.objects.filter(app_label=old, model__in=set(MOVED) - taken).update(app_label=new)


def content_types_follow(apps, schema_editor):
    _relabel(apps, old="library", new="analysis")


def content_types_go_back(apps, schema_editor):
    _relabel(apps, old="analysis", new="library")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('jobs', '0001_run'),
        ('library', '0012_movie_from_url'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='ModelVersion',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=200)),
                        ('backbone_set', models.CharField(choices=[('paper', 'Paper'), ('offline', 'Offline'), ('published', 'Published')], max_length=16)),
                        ('backbone_digest', models.CharField(help_text='SHA-256 naming the backbone weights whose embeddings this model scores.', max_length=64)),
                        ('weights', models.FileField(blank=True, max_length=300, upload_to='models/')),
                        ('card', models.JSONField(blank=True, default=dict)),
                        ('metrics', models.JSONField(blank=True, default=dict)),
                        ('status', models.CharField(choices=[('queued', 'Queued'), ('training', 'Training'), ('ready', 'Ready'), ('failed', 'Failed')], default='ready', max_length=16)),
                        ('error', models.TextField(blank=True)),
                        ('is_active', models.BooleanField(default=False)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('scene_type', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='model_versions', to='library.scenetype')),
                    ],
                    options={
                        'db_table': 'library_modelversion',
                        'ordering': ['-created_at', '-id'],
                    },
                ),
                migrations.CreateModel(
                    name='Analysis',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('timings_s', models.JSONField(blank=True, default=dict)),
                        ('backbone_set', models.CharField(blank=True, choices=[('paper', 'Paper'), ('offline', 'Offline'), ('published', 'Published')], max_length=16)),
                        ('changes', models.JSONField(blank=True, default=dict, help_text='Segments added, removed, moved vs. the last run.')),
                        ('movie', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='analyses', to='library.movie')),
                        ('run', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='analysis', to='jobs.run')),
                        ('model_versions', models.ManyToManyField(blank=True, related_name='analyses', to='analysis.modelversion')),
                    ],
                    options={
                        'verbose_name_plural': 'analyses',
                        'db_table': 'library_analysis',
                        'ordering': ['-id'],
                    },
                ),
                migrations.CreateModel(
                    name='MovieEmbedding',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('backbone_set', models.CharField(choices=[('paper', 'Paper'), ('offline', 'Offline'), ('published', 'Published')], max_length=16)),
                        ('backbone_digest', models.CharField(max_length=64)),
                        ('file', models.FileField(max_length=300, upload_to='embeddings/')),
                        ('n_windows', models.PositiveIntegerField()),
                        ('image_dim', models.PositiveIntegerField()),
                        ('audio_dim', models.PositiveIntegerField()),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('movie', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='embeddings', to='library.movie')),
                    ],
                    options={
                        'db_table': 'library_movieembedding',
                    },
                ),
                migrations.CreateModel(
                    name='ScoreTrack',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('scores', models.BinaryField(help_text='float32 little-endian, one per 1-second window')),
                        ('n_windows', models.PositiveIntegerField()),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('analysis', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='analysis.analysis')),
                        ('model_version', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='score_tracks', to='analysis.modelversion')),
                        ('movie', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='score_tracks', to='library.movie')),
                        ('scene_type', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='score_tracks', to='library.scenetype')),
                    ],
                    options={
                        'db_table': 'library_scoretrack',
                    },
                ),
                migrations.AddConstraint(
                    model_name='modelversion',
                    constraint=models.UniqueConstraint(condition=models.Q(('is_active', True)), fields=('scene_type',), name='one_active_model_per_scene_type'),
                ),
                migrations.AddConstraint(
                    model_name='modelversion',
                    constraint=models.CheckConstraint(condition=models.Q(('backbone_set__in', ['paper', 'offline', 'published'])), name='modelversion_backbone_valid'),
                ),
                migrations.AddConstraint(
                    model_name='modelversion',
                    constraint=models.CheckConstraint(condition=models.Q(('backbone_digest__regex', '^[0-9a-f]{64}$')), name='modelversion_backbone_digest_hex'),
                ),
                migrations.AddConstraint(
                    model_name='modelversion',
                    constraint=models.CheckConstraint(condition=models.Q(('status__in', ['queued', 'training', 'ready', 'failed'])), name='modelversion_status_valid'),
                ),
                migrations.AddConstraint(
                    model_name='modelversion',
                    constraint=models.CheckConstraint(condition=models.Q(('is_active', False), ('status', 'ready'), _connector='OR'), name='modelversion_active_is_ready'),
                ),
                migrations.AddConstraint(
                    model_name='movieembedding',
                    constraint=models.UniqueConstraint(fields=('movie', 'backbone_set', 'backbone_digest'), name='one_embedding_per_movie_and_backbones'),
                ),
                migrations.AddConstraint(
                    model_name='movieembedding',
                    constraint=models.CheckConstraint(condition=models.Q(('backbone_digest__regex', '^[0-9a-f]{64}$')), name='embedding_backbone_digest_hex'),
                ),
                migrations.AddConstraint(
                    model_name='movieembedding',
                    constraint=models.CheckConstraint(condition=models.Q(('backbone_set__in', ['paper', 'offline', 'published'])), name='embedding_backbone_valid'),
                ),
                migrations.AddConstraint(
                    model_name='scoretrack',
                    constraint=models.UniqueConstraint(fields=('movie', 'model_version'), name='one_score_track_per_movie_and_model'),
                ),
            ],
            database_operations=[],  # the tables, their rows and constraints stay as they are
        ),
        migrations.RunPython(content_types_follow, content_types_go_back),
    ]
