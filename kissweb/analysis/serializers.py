"""The analysis app's output shapes that other apps' views show too (training lists and imports model versions)."""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse
from rest_framework import serializers

from kissweb import errors
from kissweb.analysis.models import ModelVersion


class ModelVersionOutputSerializer(serializers.ModelSerializer):
    scene_type = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    error = errors.PublicTextField()
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = ModelVersion
        fields = [
            "id", "name", "scene_type", "backbone_set", "backbone_digest", "is_active", "status", "metrics", "card",
            "error",
            "created_at", "download_url",
        ]

    def get_download_url(self, version: ModelVersion) -> str | None:
        if not version.weights:
            return None
        try:
            return reverse("model-download", kwargs={"model_id": version.pk})
        except NoReverseMatch:
            return None
