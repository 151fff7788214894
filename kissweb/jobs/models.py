"""One table for every run of background work (analysis, re-score, training, re-derivation, ...).

The lifecycle lives here; what a kind of work produces lives in its own table (Analysis, TrainingRun), which points
at its Run. The rules that must always hold are Postgres constraints.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import CheckConstraint, F, Q, UniqueConstraint


class RunStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE_RUN_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING)
FINISHED_RUN_STATUSES = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)


class Run(models.Model):
    kind = models.CharField(max_length=32, help_text="Which Runner does the work (analyze, rescore, training, ...).")
    subject_type = models.CharField(max_length=32, help_text="What the run works on: movie, scene_type, ...")
    subject_id = models.BigIntegerField()
    lock_key = models.CharField(
        max_length=100, help_text="At most one queued or running run per key (e.g. one analysis per movie)."
    )
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=3)
    progress = models.FloatField(default=0.0)
    eta_s = models.FloatField(null=True, blank=True)
    stage = models.CharField(max_length=120, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(auto_now_add=True)
    enqueued_at = models.DateTimeField(
        null=True, blank=True, help_text="When its task was last handed to the broker (or is due, after a back-off)."
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    task_id = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-queued_at", "-id"]
        indexes = [
            models.Index(fields=["status", "heartbeat_at"], name="run_status_heartbeat"),
            models.Index(fields=["subject_type", "subject_id"], name="run_subject"),
        ]
        constraints = [
            UniqueConstraint(fields=["lock_key"], condition=Q(status__in=ACTIVE_RUN_STATUSES), name="one_active_run_per_lock"),
            CheckConstraint(condition=Q(status__in=RunStatus.values), name="run_status_valid"),
            CheckConstraint(condition=Q(progress__gte=0) & Q(progress__lte=1), name="run_progress_0_1"),
            CheckConstraint(condition=Q(max_attempts__gte=1), name="run_max_attempts_positive"),
            CheckConstraint(condition=Q(attempts__lte=F("max_attempts")), name="run_attempts_within_cap"),
            CheckConstraint(
                condition=Q(finished_at__isnull=True) | Q(started_at__isnull=True) | Q(finished_at__gte=F("started_at")),
                name="run_finished_after_started",
            ),
            CheckConstraint(
                condition=~Q(status__in=FINISHED_RUN_STATUSES) | Q(finished_at__isnull=False), name="run_final_has_finished_at"
            ),
            CheckConstraint(
                condition=~Q(status__in=ACTIVE_RUN_STATUSES) | Q(finished_at__isnull=True), name="run_active_not_finished"
            ),
            CheckConstraint(
                condition=~Q(status=RunStatus.RUNNING) | (Q(heartbeat_at__isnull=False) & Q(attempts__gte=1)),
                name="run_running_has_heartbeat",
            ),
            CheckConstraint(condition=~Q(status=RunStatus.FAILED) | ~Q(error=""), name="run_failed_has_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} run {self.pk} of {self.subject_type} {self.subject_id} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_RUN_STATUSES
