"""`manage.py train_scene_type SLUG`: train a scene type's model now, in this process, and print its metrics."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from kissweb.library.models import SceneType
from kissweb.training import services
from kissweb.training.dataset import NotEnoughAnnotations


class Command(BaseCommand):
    help = "Train a model of SLUG on the library's annotated spans (synchronously) and print its metrics as JSON."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="the scene type, e.g. kissing")
        parser.add_argument("--epochs", type=int, default=None, help="epochs (default: 10, more on small libraries)")

    def handle(self, *args, slug: str, epochs: int | None, **options):
        try:
            scene_type = SceneType.objects.get(slug=slug)
        except SceneType.DoesNotExist:
            known = ", ".join(SceneType.objects.values_list("slug", flat=True)) or "none"
            raise CommandError(f"No scene type '{slug}' (known: {known}).") from None
        try:
            run = services.training_request(scene_type=scene_type, queue=False)
        except (NotEnoughAnnotations, services.TrainingAlreadyActive) as exc:
            raise CommandError(str(exc)) from exc
        run = services.training_run(run_id=run.pk, epochs=epochs)
        if run.status != "succeeded":
            raise CommandError(f"Training run {run.pk} failed: {run.error}")
        version = run.model_version
        report = {
            "training_run": run.pk,
            "model_version": version.pk,
            "name": version.name,
            "file": version.weights.name,
            "timings_s": run.timings_s,
            "metrics": version.metrics,
        }
        self.stdout.write(json.dumps(report, indent=2, sort_keys=True))
