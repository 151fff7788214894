from django.apps import AppConfig


class TrainingConfig(AppConfig):
    name = "kissweb.training"
    label = "training"
    verbose_name = "Training scene-type models"
