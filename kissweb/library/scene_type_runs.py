"""The base of runs whose subject is a scene type (training, re-derivation, quality estimate, published model fetch)."""

from __future__ import annotations

from kissweb.jobs.runner import Runner
from kissweb.library.models import SceneType


class SceneTypeRunner(Runner):
    """One run of each kind per scene type at a time; the run ends quietly when its scene type is deleted."""

    subject_type = "scene_type"

    @classmethod
    def lock_key(cls, subject_id: int) -> str:
        return f"{cls.kind}:scene_type:{subject_id}"

    def subject_exists(self) -> bool:
        return SceneType.objects.filter(pk=self.run.subject_id).exists()
