"""A real `manage.py qcluster` worker for tests, running against the test database.

Use it from a test that commits its data (the worker is another process):

    from tests.qcluster import qcluster  # noqa: F401  (or list "tests.qcluster" in pytest_plugins)

    @pytest.mark.slow
    @pytest.mark.django_db(transaction=True)
    def test_something(qcluster):
        worker = qcluster(timeout_s=20, retry_s=25)   # starts it; stopped after the test
        ...
        worker.kill_processing("analysis-7")         # SIGKILL the pool worker running that task

Every start gets its own log file (worker.log_path); on failure the tail is in worker.log_tail().
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest

REPO = Path(__file__).resolve().parent.parent
_READY = re.compile(r"(\S+) ready for work at (\d+)")
_PROCESSING = re.compile(r"(\S+) processing (\S+)")


def test_database_url() -> str:
    """DATABASE_URL of the database the current test uses (inside a test it is the test database)."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    user = quote(db.get("USER") or "", safe="")
    password = quote(db.get("PASSWORD") or "", safe="")
    creds = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = db.get("HOST") or "127.0.0.1"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{creds}{host}{port}/{quote(db['NAME'], safe='')}"


class QCluster:
    """One `manage.py qcluster` process group; start() waits until its pool workers are ready."""

    def __init__(self, *, log_path: Path, timeout_s: int, retry_s: int, workers: int = 1, extra_env=None):
        from django.conf import settings

        self.log_path = log_path
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.qcluster_settings",
            "DATABASE_URL": test_database_url(),
            "KISSWEB_TEST_MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "KISSWEB_TASK_TIMEOUT_S": str(timeout_s),
            "KISSWEB_TASK_RETRY_S": str(retry_s),
            "KISSWEB_WORKERS": str(workers),
            "KISSWEB_DB_CONN_MAX_AGE": "0",
            "PYTHONUNBUFFERED": "1",
            **(extra_env or {}),
        }
        self.workers = workers
        self.proc: subprocess.Popen | None = None
        self._log = None

    def start(self, *, ready_timeout_s: float = 90) -> QCluster:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=REPO, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + ready_timeout_s
        while len(self.ready_workers()) < self.workers:
            if self.proc.poll() is not None:
                raise RuntimeError(f"qcluster exited with code {self.proc.returncode}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"qcluster was not ready within {ready_timeout_s} s:\n{self.log_tail()}")
            time.sleep(0.2)
        return self

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, n_chars: int = 4000) -> str:
        return self.log_text()[-n_chars:]

    def ready_workers(self) -> dict[str, int]:
        """Pool worker name -> pid, for every worker that announced itself (latest incarnation wins)."""
        return {name: int(pid) for name, pid in _READY.findall(self.log_text())}

    def pid_processing(self, task_name: str, *, timeout_s: float = 60) -> int:
        """The pid of the pool worker that picked up the task named task_name (waits for it)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            text = self.log_text()
            for worker_name, name in _PROCESSING.findall(text):
                if name == task_name:
                    pids = dict(_READY.findall(text))
                    if worker_name in pids:
                        return int(pids[worker_name])
            time.sleep(0.2)
        raise TimeoutError(f"no worker picked up task {task_name!r} within {timeout_s} s:\n{self.log_tail()}")

    def kill_processing(self, task_name: str) -> int:
        """SIGKILL the pool worker that runs task_name, as a crash would; returns its pid."""
        pid = self.pid_processing(task_name)
        os.kill(pid, signal.SIGKILL)
        return pid

    def stop(self, *, timeout_s: float = 20) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.proc.terminate()  # the sentinel stops its pool; a group-wide signal makes it wait on the dead
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            except ProcessLookupError:
                pass
        if self.proc is not None:
            # Pool workers whose parent died first may linger in the group.
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self._log is not None:
            self._log.close()
            self._log = None


def wait_for(predicate, *, timeout_s: float, interval_s: float = 0.3, what: str = "condition"):
    """Poll predicate() until it returns something truthy; return that value or fail the test."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(interval_s)


@pytest.fixture
def qcluster(transactional_db, tmp_path):
    """Factory: qcluster(timeout_s=.., retry_s=.., workers=1, extra_env=None) starts a worker; all stop at teardown."""
    started: list[QCluster] = []

    def start(*, timeout_s: int = 120, retry_s: int = 150, workers: int = 1, extra_env=None) -> QCluster:
        if retry_s <= timeout_s:
            raise ValueError("retry_s must be larger than timeout_s (django-q2 redelivers after retry_s).")
        cluster = QCluster(
            log_path=tmp_path / f"qcluster-{len(started)}.log",
            timeout_s=timeout_s, retry_s=retry_s, workers=workers, extra_env=extra_env,
        )
        started.append(cluster)
        return cluster.start()

    yield start
    for cluster in started:
        cluster.stop()
