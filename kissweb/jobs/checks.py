"""Start-up check: django-q2 redelivers a task after Q_CLUSTER["retry"] seconds, so retry must exceed every timeout."""

from __future__ import annotations

from django.core.checks import Error, register

from kissweb.jobs import conf


@register()
def q_cluster_retry_exceeds_timeout(app_configs, **kwargs):  # noqa: ARG001
    timeout, retry = conf.task_timeout_cap_s(), conf.task_retry_s()
    if retry > timeout:
        return []
    return [
        Error(
            f"Q_CLUSTER retry ({retry} s) must be larger than its timeout ({timeout} s): otherwise django-q2 hands a "
            "still-running task to a second worker.",
            hint="Set KISSWEB_TASK_RETRY_S above KISSWEB_TASK_TIMEOUT_S (for example timeout + 600).",
            id="jobs.E001",
        )
    ]
