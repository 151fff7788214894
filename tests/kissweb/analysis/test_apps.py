"""A task worker preloads torch and the embedder only where analyses run: the work queue's workers."""

from __future__ import annotations

import logging
import sys

import pytest

from kissweb.analysis.apps import _worker_warm_up


@pytest.mark.parametrize(("queue", "preloads"), [("work", True), ("downloads", False), ("housekeeping", False)])
def test_only_workers_of_the_work_queue_preload_the_detector(queue, preloads, settings, monkeypatch, caplog):
    settings.KISSWEB_WORKER_QUEUE = queue
    monkeypatch.setitem(sys.modules, "detector.embed", None)  # an import of it now fails, and says so in the log
    with caplog.at_level(logging.WARNING, logger="kissweb.analysis.apps"):
        _worker_warm_up(sender=None, proc_name="Process-1")
    assert ("could not preload the detector" in caplog.text) is preloads
