"""Analyses keep what they produced; their lifecycle moves to the job runner's Run table (kissweb.jobs).

Every existing Analysis gets a Run with the same id holding its status, attempts, progress, ETA, stage, heartbeat,
times, task id and error, so nothing is lost; the reverse copies them back.
"""

import django.db.models.deletion
from django.db import migrations, models

TO_RUNS = """
INSERT INTO jobs_run (id, kind, subject_type, subject_id, lock_key, status, attempts, max_attempts, progress, eta_s,
                      stage, heartbeat_at, queued_at, enqueued_at, started_at, finished_at, cancel_requested, task_id,
                      error, requested_by_id)
SELECT a.id, a.kind, 'movie', a.movie_id, 'movie:' || a.movie_id, a.status,
       GREATEST(a.attempts, CASE WHEN a.status = 'running' THEN 1 ELSE 0 END),
       GREATEST(3, a.attempts, CASE WHEN a.status = 'running' THEN 1 ELSE 0 END),
       a.progress, a.eta_s, a.stage,
       CASE WHEN a.status = 'running' THEN COALESCE(a.heartbeat_at, a.started_at, a.queued_at) ELSE a.heartbeat_at END,
       a.queued_at, a.queued_at, a.started_at,
       CASE WHEN a.status IN ('succeeded', 'failed', 'cancelled')
            THEN GREATEST(COALESCE(a.finished_at, a.heartbeat_at, a.queued_at), a.started_at) END,
       false, a.task_id,
       CASE WHEN a.status = 'failed' AND a.error = '' THEN 'Failed (no reason was recorded).' ELSE a.error END,
       NULL
FROM library_analysis a;
UPDATE library_analysis SET run_id = id;
SELECT setval(pg_get_serial_sequence('jobs_run', 'id'), COALESCE((SELECT MAX(id) FROM jobs_run), 1),
              (SELECT MAX(id) FROM jobs_run) IS NOT NULL);
SET CONSTRAINTS ALL IMMEDIATE;  -- check the new foreign keys now: the schema changes that follow cannot wait on them
"""

FROM_RUNS = """
UPDATE library_analysis a
SET kind = r.kind, status = r.status, attempts = r.attempts, progress = r.progress, eta_s = r.eta_s, stage = r.stage,
    heartbeat_at = r.heartbeat_at, queued_at = r.queued_at, started_at = r.started_at, finished_at = r.finished_at,
    task_id = r.task_id, error = r.error
FROM jobs_run r WHERE r.id = a.run_id;
WITH gone AS (SELECT run_id FROM library_analysis WHERE run_id IS NOT NULL),
     cleared AS (UPDATE library_analysis SET run_id = NULL WHERE run_id IS NOT NULL)
DELETE FROM jobs_run WHERE id IN (SELECT run_id FROM gone);
SET CONSTRAINTS ALL IMMEDIATE;
"""


class Migration(migrations.Migration):

    dependencies = [
        ("jobs", "0001_run"),
        ("library", "0009_backbone_digest"),
    ]

    # Constraints go first and fields last, so that the reverse copies the values back before it checks them again.
    operations = [
        migrations.RemoveConstraint(model_name="analysis", name="one_active_analysis_per_movie"),
        migrations.RemoveConstraint(model_name="analysis", name="analysis_status_valid"),
        migrations.RemoveConstraint(model_name="analysis", name="analysis_kind_valid"),
        migrations.RemoveConstraint(model_name="analysis", name="analysis_progress_0_1"),
        migrations.AddField(
            model_name="analysis",
            name="run",
            field=models.OneToOneField(
                null=True, on_delete=django.db.models.deletion.CASCADE, related_name="analysis", to="jobs.run"
            ),
        ),
        migrations.RunSQL(TO_RUNS, FROM_RUNS),
        migrations.AlterField(
            model_name="analysis",
            name="run",
            field=models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name="analysis", to="jobs.run"),
        ),
        migrations.AlterModelOptions(name="analysis", options={"ordering": ["-id"], "verbose_name_plural": "analyses"}),
        *[
            migrations.RemoveField(model_name="analysis", name=name)
            for name in ("attempts", "error", "eta_s", "finished_at", "heartbeat_at", "kind", "progress", "queued_at",
                         "stage", "started_at", "status", "task_id")
        ],
    ]
