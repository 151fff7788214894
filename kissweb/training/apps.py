from django.apps import AppConfig


class TrainingConfig(AppConfig):
    name = "kissweb.training"
    label = "training"
    verbose_name = "Training scene-type models"

    def ready(self):
        # register their Runners with kissweb.jobs
        from kissweb.training import services  # noqa: F401
