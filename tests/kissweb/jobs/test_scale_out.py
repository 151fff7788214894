"""Scale-out, proven (issue 12, part 4): two qcluster workers on the Redis broker and the web app (gunicorn) as separate
processes, six films uploaded over HTTP, one worker machine killed with SIGKILL in the middle of an analysis.

Each film must be analysed exactly once (one run, one successful pass that wrote results), with no duplicate
segments or embeddings, and every run must finish. The queue and its Redis database are this test's alone
(tests/redisq.py), so parallel runs cannot collide.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.kissweb.analysis.conftest import kissing  # noqa: F401 - fixture
from tests.kissweb.analysis.test_worker_e2e import SCENE_END_S, SCENE_START_S, scene_model_file  # noqa: F401
from tests.qcluster import REPO, qcluster, wait_for  # noqa: F401 - fixtures
from tests.redisq import redis_queue  # noqa: F401 - fixture

pytestmark = pytest.mark.slow

N_FILMS = 6
STALE_S = 8  # a killed worker's run is taken over this long after its last heartbeat


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _films(folder: Path) -> list[Path]:
    """Six different films (lengths differ, so their hashes do), each with one scene at the same seconds."""
    from tests.detector.media import make_movie

    return [
        make_movie(folder / f"film-{i}.mp4", [("blue", 220, SCENE_START_S), ("red", 880, SCENE_END_S - SCENE_START_S),
                                              ("green", 220, 20 + 4 * i)])
        for i in range(N_FILMS)
    ]


def _upload(base: str, token: str, path: Path, title: str) -> int:
    boundary = uuid.uuid4().hex
    body = b"".join([
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\n{title}\r\n".encode(),
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{path.name}\"\r\n"
        "Content-Type: video/mp4\r\n\r\n".encode(),
        path.read_bytes(),
        f"\r\n--{boundary}--\r\n".encode(),
    ])
    request = urllib.request.Request(f"{base}/api/movies/", data=body, method="POST", headers={
        "Authorization": f"Token {token}", "Content-Type": f"multipart/form-data; boundary={boundary}",
    })
    with urllib.request.urlopen(request, timeout=120) as response:
        assert response.status == 201
        return json.loads(response.read())["id"]


class WebApp:
    """gunicorn serving kissweb on the test database, the test's media folder and the Redis queue."""

    def __init__(self, *, env: dict, log_path: Path):
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.log_path = log_path
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "kissweb.wsgi:application", "--bind", f"127.0.0.1:{self.port}",
             "--worker-class", "gthread", "--workers", "1", "--threads", "4", "--timeout", "300"],
            cwd=REPO, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def wait_ready(self, timeout_s: float = 90) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.base}/api/health/", timeout=5) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"gunicorn did not answer:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self._log.close()


@pytest.mark.django_db(transaction=True)
def test_two_workers_on_redis_survive_one_being_killed_and_analyse_each_film_once(
    qcluster, redis_queue, settings, staff_user, kissing, scene_model_file, tmp_path, monkeypatch  # noqa: F811
):
    from django_q.conf import Conf
    from django_q.models import Task
    from rest_framework.authtoken.models import Token

    from kissweb.analysis.services import model_version_activate, model_version_create
    from kissweb.jobs.models import Run
    from kissweb.jobs.sweeper import sweeper_schedule_ensure
    from kissweb.analysis.models import Analysis, MovieEmbedding
    from kissweb.library.models import Movie, Segment

    model_version_activate(model_version=model_version_create(scene_type=kissing, file=scene_model_file))
    with monkeypatch.context() as workers_settings:  # the schedule names the workers' housekeeping queue
        workers_settings.setattr(Conf, "PREFIX", redis_queue.name)
        sweeper_schedule_ensure()
    token = Token.objects.create(user=staff_user).key
    films = _films(tmp_path)
    shared = {
        "REDIS_URL": redis_queue.url, "KISSWEB_QUEUE_NAME": redis_queue.name, "KISSWEB_JOBS_STALE_S": str(STALE_S),
        "KISSWEB_JOBS_SWEEP_MINUTES": "1",
    }
    workers = [qcluster(timeout_s=300, retry_s=330, extra_env=shared) for _ in range(2)]
    qcluster(timeout_s=300, retry_s=330, extra_env={**shared, "KISSWEB_WORKER_QUEUE": "housekeeping"})  # the sweeper
    web = WebApp(env={**workers[0].env}, log_path=tmp_path / "web.log")
    try:
        web.wait_ready()
        movie_ids = [_upload(web.base, token, path, f"Film {i}") for i, path in enumerate(films)]
        runs = {movie_id: Analysis.objects.get(movie_id=movie_id).run_id for movie_id in movie_ids}

        # The moment one worker is well into an analysis, its whole machine dies.
        def busy_worker():
            for run in Run.objects.filter(pk__in=runs.values(), status="running", progress__gt=0.05):
                for worker in workers:
                    if f"processing analyze-{run.pk}" in worker.log_text():
                        return worker, run.pk
            return None

        victim, killed_run = wait_for(busy_worker, timeout_s=300, interval_s=0.2, what="an analysis in progress")
        os.killpg(victim.proc.pid, signal.SIGKILL)
        survivor = next(w for w in workers if w is not victim)

        def all_finished():
            states = list(Run.objects.filter(pk__in=runs.values()).values_list("status", flat=True))
            return all(s in ("succeeded", "failed", "cancelled") for s in states) and states

        wait_for(all_finished, timeout_s=900, interval_s=1, what="every run to finish on the surviving worker")
    finally:
        web.stop()

    log = survivor.log_text()
    for movie_id, run_id in runs.items():
        run = Run.objects.get(pk=run_id)
        assert run.status == "succeeded", f"film {movie_id}: {run.error}\n{log[-3000:]}"
        assert Movie.objects.get(pk=movie_id).status == "ready"
        assert Analysis.objects.filter(movie_id=movie_id).count() == 1  # one run per film, never a second
        # Exactly one pass wrote results: one task of this run ended "succeeded"; others (a duplicate delivery, the
        # killed attempt) ended without writing.
        outcomes = list(Task.objects.filter(name=f"analyze-{run_id}").values_list("result", flat=True))
        assert outcomes.count("succeeded") == 1, outcomes
        detected = list(Segment.objects.filter(movie_id=movie_id, source="detected").values_list("start_s", "end_s"))
        assert len(detected) == len(set(detected)) == 1, detected
        (start, end), = detected
        assert abs(start - SCENE_START_S) <= 1 and abs(end - SCENE_END_S) <= 1
        assert MovieEmbedding.objects.filter(movie_id=movie_id).count() == 1
        files = list((Path(settings.MEDIA_ROOT) / "embeddings").glob(f"movie-{movie_id}-*"))
        assert len(files) == 1, files
    killed = Run.objects.get(pk=killed_run)
    assert killed.attempts == 2, "the killed attempt was taken over by the surviving worker"
    assert redis_queue.connection().llen(redis_queue.list_key) == 0  # nothing left waiting
