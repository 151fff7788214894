import logging

from django.apps import AppConfig
from django.db.models.signals import post_migrate

log = logging.getLogger(__name__)


def _worker_warm_up(sender, proc_name, **kwargs):  # noqa: ARG001
    """In a freshly spawned task worker, import torch and the embedder now rather than inside the first analysis
    (seconds on a busy machine, during which that analysis's progress could not move)."""
    try:
        import detector.embed  # noqa: F401
        import torch  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - the analysis itself reports a broken install with its reason
        log.warning("task worker %s could not preload the detector: %s", proc_name, exc)


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
        from django_q.signals import post_spawn

        post_spawn.connect(_worker_warm_up, dispatch_uid="kissweb.analysis.worker_warm_up")
