import os
import sys

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sweeper_schedule_ensure(sender, **kwargs):  # noqa: ARG001
    if sender.label != "django_q":
        return
    from kissweb.jobs.sweeper import sweeper_schedule_ensure

    sweeper_schedule_ensure()


class JobsConfig(AppConfig):
    name = "kissweb.jobs"
    label = "jobs"
    verbose_name = "Background runs"

    def ready(self):
        from django.conf import settings

        from kissweb.jobs import checks  # noqa: F401 - registers the Q_CLUSTER retry > timeout check

        # A worker of a queue with a niceness yields the CPU to the other queues' workers (its pool inherits it).
        nice = int(settings.KISSWEB_QUEUES[settings.KISSWEB_WORKER_QUEUE].get("nice", 0))
        if nice > 0 and sys.argv[1:2] == ["qcluster"]:
            os.nice(nice)

        # The sweeper is a django-q2 schedule, created (or updated) after every migrate, so `./kiss serve` has it.
        post_migrate.connect(_sweeper_schedule_ensure, dispatch_uid="kissweb.jobs.sweeper_schedule")
