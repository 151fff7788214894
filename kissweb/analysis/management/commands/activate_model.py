"""`manage.py activate_model FILE --scene-type kissing`: register a model file (or the published model.pkl), activate
it, re-score the library."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from kissweb import errors
from kissweb.analysis.selectors import model_version_activation_cost
from kissweb.analysis.services import model_version_activate, model_version_create
from kissweb.library.models import SceneType


class Command(BaseCommand):
    help = (
        "Register a detector model file (.safetensors) or the published model.pkl (converted safely, no code in it "
        "runs) as the active model of a scene type, and re-score the library."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="a .safetensors model file, or the published project's model.pkl")
        parser.add_argument("--scene-type", default="kissing", help="slug of the scene type (default: kissing)")
        parser.add_argument("--name", default="", help="a name for this model version (default: the file name)")

    def handle(self, *args, **options):
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path} does not exist or is not a file.")
        scene_type = SceneType.objects.filter(slug=options["scene_type"]).first()
        if scene_type is None:
            known = ", ".join(SceneType.objects.values_list("slug", flat=True)) or "none"
            raise CommandError(f"There is no scene type '{options['scene_type']}' (known: {known}).")
        try:
            version = model_version_create(scene_type=scene_type, file=path, name=options["name"])
        except errors.DomainError as exc:
            raise CommandError(exc.detail) from exc
        cost = model_version_activation_cost(model_version=version)
        try:
            plan = model_version_activate(model_version=version)
        except errors.DomainError as exc:
            raise CommandError(
                f"Model version {version.pk} '{version.name}' was registered but not activated: {exc.detail}"
            ) from exc
        self.stdout.write(
            f"Model version {version.pk} '{version.name}' ({version.backbone_set} backbones) is now the active "
            f"'{scene_type.slug}' model. {cost['message']} {plan.as_dict()['message']}"
        )
