"""The queues background work is split into (settings.KISSWEB_QUEUES): each is a django-q2 cluster of its own, served
by its own worker processes, so that a long run of one kind never holds up another kind. A Runner names its queue
(`Runner.queue`); a worker serves one queue (`KISSWEB_WORKER_QUEUE=downloads python manage.py qcluster`).

Adding a queue: an entry in settings.KISSWEB_QUEUES (workers, niceness), `queue = "<name>"` on the Runner, and a
line in the README's settings table. `./kiss serve` starts a worker for every queue; docker-compose.yml lists one
service per queue (tests/test_deploy.py checks it).
"""

from __future__ import annotations

from django.conf import settings

WORK = "work"  # the default queue: analyses, re-scores, training, ...
DOWNLOADS = "downloads"  # add from URL
EXPORTS = "exports"  # clips, supercuts, contact sheets: below analyses (a niceness), never in front of them
HOUSEKEEPING = "housekeeping"  # the sweeper only: it must never wait behind a long run


def queue_names() -> list[str]:
    return list(settings.KISSWEB_QUEUES)


def cluster_of(queue: str) -> str:
    """The django-q2 cluster name (the broker's list) of a queue: "work" keeps the plain queue name (KISSWEB_QUEUE_NAME),
    so a deployment from before the queues keeps its waiting tasks."""
    from django_q.conf import Conf

    if queue not in settings.KISSWEB_QUEUES:
        raise LookupError(f"No queue '{queue}' (known: {', '.join(settings.KISSWEB_QUEUES)}).")
    return Conf.PREFIX if queue == WORK else f"{Conf.PREFIX}-{queue}"


def worker_env(queue: str) -> dict[str, str]:
    """The environment a worker process of this queue is started with."""
    return {"KISSWEB_WORKER_QUEUE": queue}
