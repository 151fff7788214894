"""Training runs keep what they produced; their lifecycle moves to the job runner's Run table (kissweb.jobs).

Every existing TrainingRun gets a Run holding its status, stage, progress, ETA, heartbeat, times, error and who asked
for it, so nothing is lost; the reverse copies them back.
"""

import django.db.models.deletion
from django.db import migrations, models

FINISHED = ("succeeded", "failed", "cancelled")


def to_runs(apps, schema_editor):
    Run = apps.get_model("jobs", "Run")
    TrainingRun = apps.get_model("training", "TrainingRun")
    for training in TrainingRun.objects.order_by("pk"):
        running = training.status == "running"
        finished_at = None
        if training.status in FINISHED:
            candidates = [t for t in (training.finished_at, training.heartbeat_at, training.queued_at) if t]
            finished_at = max([candidates[0]] + ([training.started_at] if training.started_at else []))
        run = Run.objects.create(
            kind="training", subject_type="scene_type", subject_id=training.scene_type_id,
            lock_key=f"training:scene_type:{training.scene_type_id}", status=training.status,
            attempts=1 if (running or training.started_at) else 0, max_attempts=3, progress=training.progress,
            eta_s=training.eta_s, stage=training.stage,
            heartbeat_at=training.heartbeat_at or (training.started_at or training.queued_at if running else None),
            enqueued_at=training.queued_at, started_at=training.started_at or (training.queued_at if running else None),
            finished_at=finished_at,
            error=training.error or ("Failed (no reason was recorded)." if training.status == "failed" else ""),
            requested_by_id=training.requested_by_id,
        )
        Run.objects.filter(pk=run.pk).update(queued_at=training.queued_at)  # auto_now_add set it to now
        TrainingRun.objects.filter(pk=training.pk).update(run=run)
    # Check the new foreign keys now: the schema changes that follow cannot run with checks still pending.
    schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def from_runs(apps, schema_editor):
    TrainingRun = apps.get_model("training", "TrainingRun")
    for training in TrainingRun.objects.exclude(run=None).select_related("run"):
        run = training.run
        TrainingRun.objects.filter(pk=training.pk).update(
            status=run.status, stage=run.stage[:32], progress=run.progress, eta_s=run.eta_s,
            heartbeat_at=run.heartbeat_at, queued_at=run.queued_at, started_at=run.started_at,
            finished_at=run.finished_at, error=run.error, requested_by_id=run.requested_by_id,
        )
    run_ids = list(TrainingRun.objects.exclude(run=None).values_list("run_id", flat=True))
    TrainingRun.objects.update(run=None)
    # Plain SQL: the ORM's delete would look for other tables' rows pointing at these runs, in a state of the
    # schema that this reverse may already have undone.
    schema_editor.execute("DELETE FROM jobs_run WHERE id = ANY(%s)", [run_ids])
    schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


class Migration(migrations.Migration):

    dependencies = [
        ("jobs", "0001_run"),
        ("training", "0002_quality_estimate"),
    ]

    # Constraints go first and fields last, so that the reverse copies the values back before it checks them again.
    operations = [
        *[
            migrations.RemoveConstraint(model_name="trainingrun", name=name)
            for name in ("one_active_training_per_scene_type", "trainingrun_status_valid", "trainingrun_progress_0_1",
                         "trainingrun_finished_after_started", "trainingrun_succeeded_has_model",
                         "trainingrun_failed_has_reason")
        ],
        migrations.AddField(
            model_name="trainingrun",
            name="run",
            field=models.OneToOneField(
                null=True, on_delete=django.db.models.deletion.CASCADE, related_name="training", to="jobs.run"
            ),
        ),
        migrations.RunPython(to_runs, from_runs),
        migrations.AlterField(
            model_name="trainingrun",
            name="run",
            field=models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name="training", to="jobs.run"),
        ),
        migrations.AlterModelOptions(name="trainingrun", options={"ordering": ["-id"]}),
        *[
            migrations.RemoveField(model_name="trainingrun", name=name)
            for name in ("status", "stage", "progress", "eta_s", "heartbeat_at", "queued_at", "started_at",
                         "finished_at", "error", "requested_by")
        ],
    ]
