"""What the browser app remembers per person: how the player treats each scene type."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import CheckConstraint, Q, UniqueConstraint


class SkipMode(models.TextChoices):
    SHOW = "show", "Show"
    ASK = "ask", "Ask to skip"
    SKIP = "skip", "Skip"


class SkipPreference(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="skip_preferences")
    scene_type = models.ForeignKey("library.SceneType", on_delete=models.CASCADE, related_name="+")
    mode = models.CharField(max_length=8, choices=SkipMode.choices, default=SkipMode.SHOW)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            UniqueConstraint(fields=["user", "scene_type"], name="one_skip_preference_per_user_and_scene_type"),
            CheckConstraint(condition=Q(mode__in=SkipMode.values), name="skip_preference_mode_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.scene_type_id}={self.mode}"
