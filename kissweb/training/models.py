"""Training runs: one attempt to teach a scene type's head from the library's annotations.

What a training produced lives here; its lifecycle (status, attempts, progress, heartbeat, ...) is its `run`
(kissweb.jobs), like every other kind of background work.
"""

from __future__ import annotations

from django.db import models
from django.db.models import CheckConstraint, F, Q

from kissweb.jobs.models import ACTIVE_RUN_STATUSES, Run, RunStatus
from kissweb.analysis.models import ModelVersion
from kissweb.library.models import SceneType

# The run's statuses, under the names training code and tests always used.
TrainingRunStatus = RunStatus
ACTIVE_TRAINING_STATUSES = ACTIVE_RUN_STATUSES


class TrainingRun(models.Model):
    run = models.OneToOneField(Run, on_delete=models.CASCADE, related_name="training")
    scene_type = models.ForeignKey(SceneType, on_delete=models.CASCADE, related_name="training_runs")
    n_spans = models.PositiveIntegerField(default=0)
    n_movies = models.PositiveIntegerField(default=0)
    n_seconds = models.PositiveIntegerField(default=0)
    timings_s = models.JSONField(default=dict, blank=True)
    model_version = models.OneToOneField(
        ModelVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="training_run"
    )

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"training {self.pk} of {self.scene_type_id} ({self.run.status})"

    # The run's lifecycle, read through the training run (the API shows both as one object).
    status = property(lambda self: self.run.status)
    stage = property(lambda self: self.run.stage)
    progress = property(lambda self: self.run.progress)
    eta_s = property(lambda self: self.run.eta_s)
    heartbeat_at = property(lambda self: self.run.heartbeat_at)
    queued_at = property(lambda self: self.run.queued_at)
    started_at = property(lambda self: self.run.started_at)
    finished_at = property(lambda self: self.run.finished_at)
    error = property(lambda self: self.run.error)
    requested_by = property(lambda self: self.run.requested_by)
    requested_by_id = property(lambda self: self.run.requested_by_id)


class QualityEstimate(models.Model):
    """The cross-validated quality of the default training recipe on a scene type's labels at one moment (k-fold
    over movies, so no held-out set is needed). `labels_fingerprint` says which labels it rests on; when the labels
    change, the page shows it as out of date until a new estimate is computed."""

    scene_type = models.ForeignKey(SceneType, on_delete=models.CASCADE, related_name="quality_estimates")
    computed_at = models.DateTimeField(auto_now_add=True)
    labels_fingerprint = models.CharField(max_length=200)
    backbone_set = models.CharField(max_length=16)
    n_seconds = models.PositiveIntegerField()
    n_scene_seconds = models.PositiveIntegerField()
    n_movies = models.PositiveIntegerField()
    n_scene_movies = models.PositiveIntegerField()
    n_folds = models.PositiveSmallIntegerField()
    enough = models.BooleanField(help_text="False when the figure rests on too few movies or scene seconds.")
    metrics = models.JSONField(help_text="f1, precision, recall, accuracy, confusion, cut, false alarms per 10 min.")
    warnings = models.JSONField(default=list, blank=True)
    duration_s = models.FloatField(default=0.0)

    class Meta:
        ordering = ["-computed_at", "-id"]
        indexes = [models.Index(fields=["scene_type", "-computed_at"], name="quality_latest_per_type")]
        constraints = [
            CheckConstraint(condition=Q(n_scene_seconds__lte=F("n_seconds")), name="quality_scene_seconds_within"),
            CheckConstraint(condition=Q(n_scene_movies__lte=F("n_movies")), name="quality_scene_movies_within"),
            CheckConstraint(condition=Q(n_folds__gte=2), name="quality_at_least_two_folds"),
        ]
