from __future__ import annotations

from kissweb.jobs.checks import q_cluster_retry_exceeds_timeout


def test_retry_larger_than_timeout_passes(settings):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "timeout": 600, "retry": 700}
    assert q_cluster_retry_exceeds_timeout(None) == []


def test_retry_not_larger_than_timeout_is_an_error_that_says_what_to_set(settings):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "timeout": 600, "retry": 600}
    [error] = q_cluster_retry_exceeds_timeout(None)
    assert error.id == "jobs.E001" and "KISSWEB_TASK_RETRY_S" in error.hint
