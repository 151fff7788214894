"""The Django admin: a maintenance view on the library's rows (the app itself is the API and the pages)."""

from __future__ import annotations

from django.contrib import admin

from kissweb.library.models import Annotation, Movie, SceneType, Segment


@admin.register(Movie)
class MovieAdmin(admin.ModelAdmin):
    list_display = ("id", "title", "year", "status", "progress", "duration_s", "uploaded_by", "created_at")
    list_filter = ("status",)
    search_fields = ("title", "original_filename", "sha256")
    readonly_fields = ("file", "poster", "sha256", "size_bytes", "duration_s", "width", "height", "fps", "has_audio",
                       "container", "video_codec", "created_at")
    list_select_related = ("uploaded_by",)


@admin.register(SceneType)
class SceneTypeAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "cut", "min_frames", "threshold")
    search_fields = ("slug", "name")


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ("id", "movie", "scene_type", "start_s", "end_s", "confidence", "source")
    list_filter = ("scene_type", "source")
    raw_id_fields = ("movie", "analysis", "model_version", "created_by")
    list_select_related = ("movie", "scene_type")


@admin.register(Annotation)
class AnnotationAdmin(admin.ModelAdmin):
    list_display = ("id", "movie", "scene_type", "start_s", "end_s", "label", "author", "created_at")
    list_filter = ("scene_type", "label")
    raw_id_fields = ("movie", "segment", "model_version", "author")
    list_select_related = ("movie", "scene_type", "author")
