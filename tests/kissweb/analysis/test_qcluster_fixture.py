"""The qcluster fixture starts a real worker on the test database, and a killed worker is replaced."""

from __future__ import annotations

import pytest

from tests.qcluster import qcluster, wait_for  # noqa: F401 - fixture


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_worker_runs_a_task_on_the_test_database(qcluster):  # noqa: F811
    from django_q.models import Task
    from django_q.tasks import async_task

    worker = qcluster(timeout_s=20, retry_s=30)
    async_task("math.floor", 2.5, task_name="floor-smoke")
    task = wait_for(lambda: Task.objects.filter(name="floor-smoke").first(), timeout_s=60, what="the task result")
    assert task.success and task.result == 2
    assert worker.pid_processing("floor-smoke") in worker.ready_workers().values()
