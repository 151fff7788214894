"""`manage.py fetch_published_model`: get the published kissing model (download, safe import), register it and make it
the active kissing model, re-scoring the library. One command for a working detector on a machine with internet."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from kissweb.analysis.model_files import (
    PUBLISHED_SCENE_TYPE,
    PublishedModelFetchRunner,
    model_version_activate,
    published_model_fetch_request,
)
from kissweb.analysis.models import ModelVersion
from kissweb.analysis.selectors import model_version_activation_cost
from kissweb.jobs.models import RunStatus
from kissweb.library.models import SceneType


class Command(BaseCommand):
    help = (
        "Download the published kissing model (model.pkl of Ziai 2019), import it safely, register it and activate "
        "it (--no-activate: only register). Without internet it says how to get the file by hand."
    )

    def add_arguments(self, parser):
        parser.add_argument("--no-activate", action="store_true", help="register the model version only")

    def handle(self, *args, **options):
        scene_type = SceneType.objects.filter(slug=PUBLISHED_SCENE_TYPE).first()
        if scene_type is None:
            raise CommandError(f"There is no scene type '{PUBLISHED_SCENE_TYPE}'; run `./kiss manage migrate` first.")
        before = set(ModelVersion.objects.filter(scene_type=scene_type).values_list("pk", flat=True))
        run = published_model_fetch_request(scene_type=scene_type, user=None, enqueue=False)
        self.stdout.write("Getting the published model (about 330 MB)...")
        PublishedModelFetchRunner.execute(run.pk)
        run.refresh_from_db()
        if run.status != RunStatus.SUCCEEDED:
            raise CommandError(run.error or f"Getting the published model ended {run.status}.")
        version = ModelVersion.objects.filter(scene_type=scene_type).exclude(pk__in=before).get()
        self.stdout.write(f"Registered model version {version.pk} '{version.name}' ({version.backbone_set} backbones).")
        if options["no_activate"]:
            return
        cost = model_version_activation_cost(model_version=version)
        try:
            plan = model_version_activate(model_version=version)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(f"It is now the active '{scene_type.slug}' model. {cost['message']} {plan.as_dict()['message']}")
