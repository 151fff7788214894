"""`./kiss serve`: migrates, makes an admin, runs web + worker, and stops both on Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg2
import pytest
from django.conf import settings

from kissweb import dbresolve

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def fresh_database():
    if not dbresolve.server_reachable(dbresolve.LOCAL_SERVER_URL):
        pytest.skip("no local Postgres")
    name = f"kissweb_serve_test_{os.getpid()}"
    admin = psycopg2.connect(dbresolve.LOCAL_SERVER_URL)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name}")
        cur.execute(f"CREATE DATABASE {name}")
    yield f"postgres://postgres@127.0.0.1:5432/{name}"
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.close()


def _get_json(url: str, *, data: dict | None = None, headers: dict | None = None) -> tuple[int, dict]:
    body = json.dumps(data).encode() if data is not None else None
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def _children_running(parent: int, word: str) -> list[int]:
    found = []
    for pid in subprocess.run(["pgrep", "-P", str(parent)], capture_output=True, text=True).stdout.split():
        try:
            if word in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
                found.append(int(pid))
        except FileNotFoundError:  # it ended meanwhile
            continue
    return found


@pytest.mark.slow
def test_serve_runs_web_and_worker_and_stops_cleanly(fresh_database, tmp_path):
    port = _free_port()
    env = {
        k: v for k, v in os.environ.items()
        if k not in ("KISSWEB_ADMIN_USER", "KISSWEB_ADMIN_PASSWORD", "DJANGO_SETTINGS_MODULE")
    }
    env.update(DATABASE_URL=fresh_database, KISSWEB_DATA_DIR=str(tmp_path / "data"),
               KISSWEB_STATIC_ROOT=str(tmp_path / "static"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "kissweb.cli", "serve", "--port", str(port)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    output: list[str] = []
    try:
        password = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and password is None:
            line = proc.stdout.readline()
            if not line:
                break
            output.append(line)
            match = re.search(r"Created user 'admin' with password: (\S+)", line)
            if match:
                password = match.group(1)
        assert password, "".join(output)
        assert any(f"http://localhost:{port}/" in line for line in output)

        base = f"http://127.0.0.1:{port}"
        status, health = None, {}
        for _ in range(60):
            try:
                status, health = _get_json(f"{base}/api/health/")
                if health.get("workers"):
                    break
            except OSError:
                pass
            time.sleep(1)
        assert status == 200 and health["database"] == "ok"
        assert health["workers"] >= 1, health  # the qcluster worker is up and reporting

        status, token = _get_json(f"{base}/api/auth/token/", data={"username": "admin", "password": password})
        assert status == 200 and token["token"]

        # One worker per queue (work, downloads, exports, housekeeping, ...), each serving its own queue.
        queues = {}
        for pid in _children_running(proc.pid, "qcluster"):
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            queues[next(v.split(b"=", 1)[1].decode() for v in environ if v.startswith(b"KISSWEB_WORKER_QUEUE="))] = pid
        assert sorted(queues) == sorted(settings.KISSWEB_QUEUES), queues

        # Fault 11: the worker's parent killed. The site stays up, `serve` says so and starts a new worker.
        old_worker = queues["work"]
        os.kill(old_worker, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any("task worker" in line for line in output):
            line = proc.stdout.readline()
            if not line:
                break
            output.append(line)
        assert any(f"task worker of the work queue (qcluster, pid {old_worker}) exited" in line for line in output), (
            "".join(output))
        assert proc.poll() is None and _get_json(f"{base}/api/health/")[0] == 200
        for _ in range(90):
            new_workers = _children_running(proc.pid, "qcluster")
            if len(new_workers) == len(queues) and old_worker not in new_workers:
                break
            time.sleep(1)
        assert len(new_workers) == len(queues) and old_worker not in new_workers, "".join(output)
    finally:
        children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
        proc.send_signal(signal.SIGINT)
        try:
            rest, _ = proc.communicate(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    assert proc.returncode == 0, "".join(output) + rest
    assert len(children) == 1 + len(settings.KISSWEB_QUEUES)  # gunicorn and a qcluster per queue
    for pid in children:  # each started its own process group; none may be left running
        assert subprocess.run(["pgrep", "-g", pid], capture_output=True).returncode == 1, f"group {pid} still runs"
