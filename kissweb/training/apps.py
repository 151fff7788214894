from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sweeper_schedule_ensure(sender, **kwargs):  # noqa: ARG001
    if sender.label != "django_q":
        return
    from kissweb.training.services import training_sweeper_schedule_ensure

    training_sweeper_schedule_ensure()


class TrainingConfig(AppConfig):
    name = "kissweb.training"
    label = "training"
    verbose_name = "Training scene-type models"

    def ready(self):
        # A django-q2 schedule fails runs whose worker died, so a dead run never blocks the scene type for long.
        post_migrate.connect(_sweeper_schedule_ensure, dispatch_uid="kissweb.training.sweeper_schedule")
