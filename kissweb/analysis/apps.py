from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sweeper_schedule_ensure(sender, **kwargs):  # noqa: ARG001
    if sender.label != "django_q":
        return
    from kissweb.analysis.services import sweeper_schedule_ensure

    sweeper_schedule_ensure()


class AnalysisConfig(AppConfig):
    name = "kissweb.analysis"
    label = "analysis"
    verbose_name = "Analysis pipeline"

    def ready(self):
        from kissweb.analysis import checks  # noqa: F401 - registers the Q_CLUSTER retry > timeout check

        # The sweeper is a django-q2 schedule, created (or updated) after every migrate, so `./kiss serve` has it.
        post_migrate.connect(_sweeper_schedule_ensure, dispatch_uid="kissweb.analysis.sweeper_schedule")
