"""The Django admin: a maintenance view on the analysis pipeline's rows."""

from __future__ import annotations

from django.contrib import admin

from kissweb.analysis.models import Analysis, ModelVersion, MovieEmbedding


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("id", "scene_type", "name", "backbone_set", "status", "is_active", "created_at")
    list_filter = ("scene_type", "is_active", "status")
    list_select_related = ("scene_type",)


@admin.register(Analysis)
class AnalysisAdmin(admin.ModelAdmin):
    list_display = ("id", "movie", "kind", "status", "attempts", "progress", "stage", "heartbeat_at", "finished_at")
    list_filter = ("run__status", "run__kind")
    raw_id_fields = ("movie", "run")
    list_select_related = ("movie", "run")


@admin.register(MovieEmbedding)
class MovieEmbeddingAdmin(admin.ModelAdmin):
    list_display = ("id", "movie", "backbone_set", "n_windows", "image_dim", "audio_dim", "created_at")
    raw_id_fields = ("movie",)
