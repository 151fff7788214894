from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sweeper_schedule_ensure(sender, **kwargs):  # noqa: ARG001
    if sender.label != "django_q":
        return
    from kissweb.exports.sweeper import export_sweeper_schedule_ensure

    export_sweeper_schedule_ensure()


class ExportsConfig(AppConfig):
    name = "kissweb.exports"
    label = "exports"
    verbose_name = "Exports: clips, supercuts, contact sheets"

    def ready(self):
        from kissweb.exports import runners, signals  # noqa: F401 - the worker must know the kind; file cleanup

        # Expired exports are removed by a django-q2 schedule, created (or updated) after every migrate.
        post_migrate.connect(_sweeper_schedule_ensure, dispatch_uid="kissweb.exports.sweeper_schedule")
