"""Training runs: one attempt to teach a scene type's head from the library's annotations."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import CheckConstraint, F, Q, UniqueConstraint

from kissweb.library.models import ModelVersion, SceneType


class TrainingRunStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


ACTIVE_TRAINING_STATUSES = (TrainingRunStatus.QUEUED, TrainingRunStatus.RUNNING)


class TrainingRun(models.Model):
    scene_type = models.ForeignKey(SceneType, on_delete=models.CASCADE, related_name="training_runs")
    status = models.CharField(max_length=16, choices=TrainingRunStatus.choices, default=TrainingRunStatus.QUEUED)
    stage = models.CharField(max_length=32, blank=True)
    progress = models.FloatField(default=0.0)
    eta_s = models.FloatField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    n_spans = models.PositiveIntegerField(default=0)
    n_movies = models.PositiveIntegerField(default=0)
    n_seconds = models.PositiveIntegerField(default=0)
    timings_s = models.JSONField(default=dict, blank=True)
    model_version = models.OneToOneField(
        ModelVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="training_run"
    )
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-queued_at", "-id"]
        constraints = [
            # One queued or running training per scene type: a second request gets 409.
            UniqueConstraint(
                fields=["scene_type"],
                condition=Q(status__in=ACTIVE_TRAINING_STATUSES),
                name="one_active_training_per_scene_type",
            ),
            CheckConstraint(condition=Q(status__in=TrainingRunStatus.values), name="trainingrun_status_valid"),
            CheckConstraint(condition=Q(progress__gte=0) & Q(progress__lte=1), name="trainingrun_progress_0_1"),
            CheckConstraint(
                condition=Q(finished_at__isnull=True) | Q(started_at__isnull=True) | Q(finished_at__gte=F("started_at")),
                name="trainingrun_finished_after_started",
            ),
            CheckConstraint(
                condition=~Q(status=TrainingRunStatus.SUCCEEDED) | Q(model_version__isnull=False),
                name="trainingrun_succeeded_has_model",
            ),
            CheckConstraint(
                condition=~Q(status=TrainingRunStatus.FAILED) | ~Q(error=""),
                name="trainingrun_failed_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"training {self.pk} of {self.scene_type_id} ({self.status})"


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
