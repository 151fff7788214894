import logging

from django.apps import AppConfig

log = logging.getLogger(__name__)


def _worker_warm_up(sender, proc_name, **kwargs):  # noqa: ARG001
    """In a freshly spawned task worker, import torch and the embedder now rather than inside the first analysis
    (seconds on a busy machine, during which that analysis's progress could not move). Only in workers of the work
    queue: the other queues' workers never run the detector, and torch would cost each of them about 500 MB."""
    from django.conf import settings

    from kissweb.jobs.queues import WORK

    if settings.KISSWEB_WORKER_QUEUE != WORK:
        return
    try:
        import detector.embed  # noqa: F401
        import torch  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - the analysis itself reports a broken install with its reason
        log.warning("task worker %s could not preload the detector: %s", proc_name, exc)


class AnalysisConfig(AppConfig):
    name = "kissweb.analysis"
    label = "analysis"
    verbose_name = "Analysis pipeline"

    def ready(self):
        from kissweb.analysis import (  # noqa: F401 - registers the Runners with kissweb.jobs
            housekeeping, model_files, pipeline, rederive,
        )
        from kissweb.analysis import receivers  # noqa: F401 - the follow-up work of the library's changes
        from django_q.signals import post_spawn

        post_spawn.connect(_worker_warm_up, dispatch_uid="kissweb.analysis.worker_warm_up")
