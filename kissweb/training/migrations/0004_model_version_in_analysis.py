"""A training run's model version is kissweb.analysis's now (a move of Django's state only; the table stays)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('analysis', '0001_tables_from_library'),
        ('training', '0003_trainingrun_run'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='trainingrun',
                    name='model_version',
                    field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='training_run', to='analysis.modelversion'),
                ),
            ],
            database_operations=[],  # the tables, their rows and constraints stay as they are
        ),
    ]
