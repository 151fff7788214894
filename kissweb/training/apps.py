from django.apps import AppConfig


class TrainingConfig(AppConfig):
    name = "kissweb.training"
    label = "training"
    verbose_name = "Training scene-type models"

    def ready(self):
        from kissweb.training import services  # noqa: F401 - registers the TrainingRunner with kissweb.jobs
