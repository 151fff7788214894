"""What was asked to be exported and where the result is. Its lifecycle (queued, running, progress, ETA, error) is
a jobs Run of kind "export" whose subject is the export."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import CheckConstraint, Q

from kissweb.library.models import Movie, SceneType


class ExportKind(models.TextChoices):
    CLIP = "clip"
    SUPERCUT = "supercut"
    CONTACT_SHEET = "contact_sheet"


class Export(models.Model):
    kind = models.CharField(max_length=16, choices=ExportKind.choices)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="exports")
    # The film of a clip, of a film's supercut or contact sheet; empty for a supercut of a scene search (its films
    # are in `scenes`). Deleting the film deletes its exports.
    movie = models.ForeignKey(Movie, on_delete=models.CASCADE, null=True, blank=True, related_name="exports")
    scene_type = models.ForeignKey(SceneType, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    params = models.JSONField(default=dict, blank=True, help_text="What was asked: padding, filters, limits.")
    scenes = models.JSONField(
        default=list, blank=True,
        help_text="The scenes as they were when asked: [{segment_id, movie_id, start_s, end_s, confidence, source}].",
    )
    file = models.CharField(max_length=300, blank=True, help_text="Under MEDIA_ROOT, once the export is made.")
    size_bytes = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(help_text="After this the sweeper removes the file and this row.")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["expires_at"]), models.Index(fields=["requested_by", "-created_at"])]
        constraints = [
            CheckConstraint(condition=Q(kind__in=ExportKind.values), name="export_kind_valid"),
            CheckConstraint(condition=~Q(kind__in=[ExportKind.CLIP, ExportKind.CONTACT_SHEET]) | Q(movie__isnull=False),
                            name="export_film_kinds_have_a_film"),
            CheckConstraint(condition=Q(file="") | Q(size_bytes__gt=0), name="export_file_has_size"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} export {self.pk}"


class PlayableCopy(models.Model):
    """Whether browsers play a film's file as it is (decided once, from its streams), and when they do not, the
    copy they can play (H.264/AAC MP4, faststart), made by a run of kind "playable_copy" on the exports queue."""

    movie = models.OneToOneField(Movie, on_delete=models.CASCADE, related_name="playable_copy")
    source_plays = models.BooleanField(help_text="Browsers play the film's own file; no copy is needed.")
    reason = models.CharField(max_length=300, blank=True, help_text="Why browsers cannot play the film's own file.")
    file = models.CharField(max_length=300, blank=True, help_text="The copy, under MEDIA_ROOT, once it is made.")
    size_bytes = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            CheckConstraint(condition=Q(file="") | Q(size_bytes__gt=0), name="playablecopy_file_has_size"),
            CheckConstraint(condition=Q(source_plays=False) | Q(file=""), name="playablecopy_only_when_needed"),
            CheckConstraint(condition=Q(source_plays=True) | ~Q(reason=""), name="playablecopy_says_why"),
        ]

    def __str__(self) -> str:
        return f"playable copy of movie {self.movie_id}"
