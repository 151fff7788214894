"""The analysis pipeline's data: model versions (the model files a scene type may score with), analyses (what one
run over a movie produced), per-second embeddings and score tracks. Rules that must always hold are Postgres
constraints. The tables kept the names they had when the library owned them (db_table)."""

from __future__ import annotations

import numpy as np
from django.conf import settings
from django.db import models
from django.db.models import CheckConstraint, Q, UniqueConstraint

from kissweb.jobs.models import ACTIVE_RUN_STATUSES, Run, RunStatus
from kissweb.library.digests import SET_NAMES, STANDARD_SETS, standard_digest
from kissweb.library.models import Movie, SceneType


# the detector's registry of backbone sets (detector.backbones), e.g. BackboneSet.PAPER == "paper"
BackboneSet = models.TextChoices("BackboneSet", [(name.upper(), name) for name in SET_NAMES])


DIGEST_REGEX = r"^[0-9a-f]{64}$"


class ModelVersionStatus(models.TextChoices):
    QUEUED = "queued"
    TRAINING = "training"
    READY = "ready"
    FAILED = "failed"


class ModelVersion(models.Model):
    scene_type = models.ForeignKey(SceneType, on_delete=models.CASCADE, related_name="model_versions")
    name = models.CharField(max_length=200)
    backbone_set = models.CharField(max_length=16, choices=BackboneSet.choices)
    backbone_digest = models.CharField(
        max_length=64, help_text="SHA-256 naming the backbone weights whose embeddings this model scores."
    )
    weights = models.FileField(upload_to="models/", max_length=300, blank=True)
    card = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=ModelVersionStatus.choices, default=ModelVersionStatus.READY)
    error = models.TextField(blank=True)
    is_active = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "library_modelversion"  # the table kept its name when the model moved from library
        ordering = ["-created_at", "-id"]
        constraints = [
            UniqueConstraint(fields=["scene_type"], condition=Q(is_active=True), name="one_active_model_per_scene_type"),
            CheckConstraint(condition=Q(backbone_set__in=BackboneSet.values), name="modelversion_backbone_valid"),
            CheckConstraint(condition=Q(backbone_digest__regex=DIGEST_REGEX), name="modelversion_backbone_digest_hex"),
            CheckConstraint(condition=Q(status__in=ModelVersionStatus.values), name="modelversion_status_valid"),
            CheckConstraint(
                condition=Q(is_active=False) | Q(status=ModelVersionStatus.READY), name="modelversion_active_is_ready"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scene_type.slug}:{self.name}"

    def save(self, *args, **kwargs):
        _standard_digest_fill(self)
        super().save(*args, **kwargs)


def _standard_digest_fill(row) -> None:
    """A row of a standard set (paper, offline) has exactly one possible digest (the detector's checksums fix those weights): fill it
    when left blank. A published row must name its own; the constraint refuses it otherwise."""
    if not row.backbone_digest and row.backbone_set in STANDARD_SETS:
        row.backbone_digest = standard_digest(row.backbone_set)


# An analysis's lifecycle is its Run's (kissweb.jobs): these names stay for the code that reads them.
AnalysisStatus = RunStatus
ACTIVE_ANALYSIS_STATUSES = ACTIVE_RUN_STATUSES


class AnalysisKind(models.TextChoices):
    ANALYZE = "analyze"  # decode + embed + score + aggregate
    RESCORE = "rescore"  # score + aggregate from stored embeddings


class Analysis(models.Model):
    """What one analysis run of a movie produced; its lifecycle (status, attempts, progress, ...) is `run`."""

    run = models.OneToOneField(Run, on_delete=models.CASCADE, related_name="analysis")
    movie = models.ForeignKey(Movie, on_delete=models.CASCADE, related_name="analyses")
    timings_s = models.JSONField(default=dict, blank=True)
    backbone_set = models.CharField(max_length=16, choices=BackboneSet.choices, blank=True)
    model_versions = models.ManyToManyField(ModelVersion, blank=True, related_name="analyses")
    changes = models.JSONField(default=dict, blank=True, help_text="Segments added, removed, moved vs. the last run.")

    class Meta:
        db_table = "library_analysis"  # the table kept its name when the model moved from library
        ordering = ["-id"]
        verbose_name_plural = "analyses"

    # The run's lifecycle, read through the analysis (the API shows both as one object).
    kind = property(lambda self: self.run.kind)
    status = property(lambda self: self.run.status)
    attempts = property(lambda self: self.run.attempts)
    progress = property(lambda self: self.run.progress)
    eta_s = property(lambda self: self.run.eta_s)
    stage = property(lambda self: self.run.stage)
    heartbeat_at = property(lambda self: self.run.heartbeat_at)
    queued_at = property(lambda self: self.run.queued_at)
    started_at = property(lambda self: self.run.started_at)
    finished_at = property(lambda self: self.run.finished_at)
    task_id = property(lambda self: self.run.task_id)
    error = property(lambda self: self.run.error)


class MovieEmbedding(models.Model):
    """Per-second embeddings of one movie by one backbone set and version of its weights (the digest), stored once
    as a .npy file under MEDIA_ROOT. Kept when another model becomes active, so switching back decodes nothing."""

    movie = models.ForeignKey(Movie, on_delete=models.CASCADE, related_name="embeddings")
    backbone_set = models.CharField(max_length=16, choices=BackboneSet.choices)
    backbone_digest = models.CharField(max_length=64)
    file = models.FileField(upload_to="embeddings/", max_length=300)
    n_windows = models.PositiveIntegerField()
    image_dim = models.PositiveIntegerField()
    audio_dim = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "library_movieembedding"  # the table kept its name when the model moved from library
        constraints = [
            UniqueConstraint(
                fields=["movie", "backbone_set", "backbone_digest"], name="one_embedding_per_movie_and_backbones"
            ),
            CheckConstraint(condition=Q(backbone_digest__regex=DIGEST_REGEX), name="embedding_backbone_digest_hex"),
            CheckConstraint(condition=Q(backbone_set__in=BackboneSet.values), name="embedding_backbone_valid"),
        ]

    def save(self, *args, **kwargs):
        _standard_digest_fill(self)
        super().save(*args, **kwargs)


class ScoreTrack(models.Model):
    """One probability per second for one movie, scene type and model version."""

    movie = models.ForeignKey(Movie, on_delete=models.CASCADE, related_name="score_tracks")
    scene_type = models.ForeignKey(SceneType, on_delete=models.CASCADE, related_name="score_tracks")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="score_tracks")
    analysis = models.ForeignKey(Analysis, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    scores = models.BinaryField(help_text="float32 little-endian, one per 1-second window")
    n_windows = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    SCORE_DTYPE = "<f4"

    class Meta:
        db_table = "library_scoretrack"  # the table kept its name when the model moved from library
        constraints = [
            UniqueConstraint(fields=["movie", "model_version"], name="one_score_track_per_movie_and_model"),
        ]

    @classmethod
    def encode(cls, probabilities: np.ndarray) -> bytes:
        """The stored form of per-second probabilities."""
        return np.asarray(probabilities).astype(cls.SCORE_DTYPE).tobytes()

    @classmethod
    def decode(cls, raw: bytes | memoryview) -> np.ndarray:
        """Per-second probabilities from the stored bytes (a row's `scores`, or a values_list of them)."""
        return np.frombuffer(bytes(raw), dtype=cls.SCORE_DTYPE)
