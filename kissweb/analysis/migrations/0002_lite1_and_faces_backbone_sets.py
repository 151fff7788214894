# The lite1 and faces backbone sets (detector.backbones): two more choices for the backbone_set columns and their
# constraints.

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('analysis', '0001_tables_from_library'),
        ('library', '0014_scene_settings_short_default'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='modelversion',
            name='modelversion_backbone_valid',
        ),
        migrations.RemoveConstraint(
            model_name='movieembedding',
            name='embedding_backbone_valid',
        ),
        migrations.AlterField(
            model_name='analysis',
            name='backbone_set',
            field=models.CharField(blank=True, choices=[('paper', 'Paper'), ('offline', 'Offline'), ('lite1', 'Lite1'), ('faces', 'Faces'), ('published', 'Published')], max_length=16),
        ),
        migrations.AlterField(
            model_name='modelversion',
            name='backbone_set',
            field=models.CharField(choices=[('paper', 'Paper'), ('offline', 'Offline'), ('lite1', 'Lite1'), ('faces', 'Faces'), ('published', 'Published')], max_length=16),
        ),
        migrations.AlterField(
            model_name='movieembedding',
            name='backbone_set',
            field=models.CharField(choices=[('paper', 'Paper'), ('offline', 'Offline'), ('lite1', 'Lite1'), ('faces', 'Faces'), ('published', 'Published')], max_length=16),
        ),
        migrations.AddConstraint(
            model_name='modelversion',
            constraint=models.CheckConstraint(condition=models.Q(('backbone_set__in', ['paper', 'offline', 'lite1', 'faces', 'published'])), name='modelversion_backbone_valid'),
        ),
        migrations.AddConstraint(
            model_name='movieembedding',
            constraint=models.CheckConstraint(condition=models.Q(('backbone_set__in', ['paper', 'offline', 'lite1', 'faces', 'published'])), name='embedding_backbone_valid'),
        ),
    ]
