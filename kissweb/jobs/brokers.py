"""django-q2 brokers that say what happens to a task the worker cannot read.

django-q2 drops such a task (signed with another secret key, or damaged) after logging a traceback; which run it
belonged to cannot be known without trusting it. These brokers add one error line saying that the sweeper hands the
run to the broker again once it has been queued longer than the stale limit.
"""

from __future__ import annotations

import logging

from django_q.brokers.orm import ORM
from django_q.brokers.redis_broker import Redis

from kissweb.jobs import conf

log = logging.getLogger(__name__)


def _log_refused(list_key: str) -> None:
    log.error(
        "A task in queue %s could not be read (signed with another DJANGO_SECRET_KEY, or damaged) and was dropped. "
        "Every process must use the same key. The run it belonged to is handed to the broker again by the sweeper "
        "within %s s.", list_key, conf.stale_after_s(),
    )


class RedisBroker(Redis):
    def fail(self, task_id):
        _log_refused(self.list_key)
        return super().fail(task_id)


class OrmBroker(ORM):
    def fail(self, task_id):
        _log_refused(self.list_key)
        return super().fail(task_id)
