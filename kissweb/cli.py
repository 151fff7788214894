"""What `./kiss` runs once the virtual environment is ready: serve, worker, test, manage, bench."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from kissweb.dbresolve import resolve_database_url
from kissweb.settings.secret import secret_key

REPO = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    path = Path(os.environ.get("KISSWEB_DATA_DIR", REPO / "data")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    os.environ["KISSWEB_DATA_DIR"] = str(path)
    return path


def export_database_url(*, db_name: str = "kissweb") -> str:
    url, where = resolve_database_url(data_dir=data_dir(), db_name=db_name)
    os.environ["DATABASE_URL"] = url
    print(f"kiss: database: {where} ({_redact(url)})", file=sys.stderr)
    return where


def _redact(url: str) -> str:
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}@{host}"


def export_secret_key() -> None:
    """The installation's key (DJANGO_SECRET_KEY, else KISSWEB_DATA_DIR/secret_key) for every process started here;
    settings resolve it the same way, so `python manage.py ...` run by hand signs tasks the worker can read."""
    os.environ["DJANGO_SECRET_KEY"] = secret_key(data_dir=data_dir())


def setup_django(settings_module: str = "kissweb.settings.local") -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings_module)
    import django

    django.setup()


def prepare_app() -> str | None:
    """Migrate, collect static files and make sure an admin exists; returns a new password to show once."""
    from django.core.management import call_command

    from kissweb.library.services import admin_ensure

    call_command("migrate", interactive=False, verbosity=0)
    call_command("createcachetable", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    return admin_ensure(
        username=os.environ.get("KISSWEB_ADMIN_USER") or None,
        password=os.environ.get("KISSWEB_ADMIN_PASSWORD") or None,
    )


def _start(cmd: list[str]) -> subprocess.Popen:
    return subprocess.Popen(cmd, cwd=REPO, start_new_session=True)


def _stop_all(procs: list[subprocess.Popen], timeout_s: float = 20) -> None:
    # SIGTERM to the leaders only: gunicorn's master and qcluster's sentinel stop their own children in order
    # (a signal to the whole group kills qcluster's pool first, and its sentinel then waits on the dead).
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + timeout_s
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


WORKER_RESTART_DELAYS_S = (1, 5, 15, 60)  # waits before restarting a worker that keeps dying right after its start
WORKER_HEALTHY_AFTER_S = 60  # a worker that ran this long before dying is restarted at once


def _worker_start(python: str, queue: str) -> subprocess.Popen:
    return subprocess.Popen([python, "manage.py", "qcluster"], cwd=REPO, start_new_session=True,
                            env={**os.environ, "KISSWEB_WORKER_QUEUE": queue})


class Worker:
    """The qcluster of one queue, restarted when it dies (after a pause when it keeps dying right after its start)."""

    def __init__(self, python: str, queue: str):
        self.python, self.queue = python, queue
        self.proc, self.started_at, self.quick_deaths = _worker_start(python, queue), time.monotonic(), 0

    def restart_if_dead(self) -> None:
        worker = self.proc
        if worker.poll() is None:
            return
        try:  # its pool workers, orphaned in its process group, go too
            os.killpg(worker.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        healthy = time.monotonic() - self.started_at >= WORKER_HEALTHY_AFTER_S
        self.quick_deaths = 0 if healthy else self.quick_deaths + 1
        delays = WORKER_RESTART_DELAYS_S
        delay = delays[min(self.quick_deaths, len(delays)) - 1] if self.quick_deaths else 0
        print(
            f"kiss: the task worker of the {self.queue} queue (qcluster, pid {worker.pid}) exited with code "
            f"{worker.returncode}; the web server stays up, and a new worker starts{f' in {delay} s' if delay else ' now'}. "
            "Runs it was working on are queued again once their heartbeat is stale.",
            file=sys.stderr, flush=True,
        )
        time.sleep(delay)
        self.proc, self.started_at = _worker_start(self.python, self.queue), time.monotonic()


def _queue_names() -> list[str]:
    from kissweb.jobs.queues import queue_names

    return queue_names()


def cmd_serve(args: argparse.Namespace) -> int:
    export_database_url()
    export_secret_key()
    setup_django()
    new_password = prepare_app()
    python = sys.executable
    web = _start([
        python, "-m", "gunicorn", "kissweb.wsgi:application",
        "--bind", f"{args.host}:{args.port}",
        "--worker-class", "gthread", "--workers", str(args.web_workers), "--threads", "8",
        "--timeout", "3600", "--graceful-timeout", "10", "--access-logfile", "-",
    ])
    # One worker per queue (analyses, downloads, exports, the sweeper), so that no kind of work waits behind another.
    workers = [Worker(python, queue) for queue in _queue_names()]
    url = f"http://{'localhost' if args.host in ('127.0.0.1', '0.0.0.0') else args.host}:{args.port}/"
    print(f"\nKissweb is running at {url}  (Ctrl-C stops the web server and the workers)", flush=True)
    if new_password:
        print(f"Created user 'admin' with password: {new_password}  (shown once; change it after logging in)",
              flush=True)

    stopping = False

    def _on_signal(signum, frame):  # noqa: ARG001
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    try:
        while not stopping and web.poll() is None:
            for worker in workers:
                if not stopping:  # a dead worker must not take the site down: restart it, and say so
                    worker.restart_if_dead()
            time.sleep(0.5)
    finally:
        web_died = web.poll() is not None
        _stop_all([web, *(worker.proc for worker in workers)])
    if web_died and not stopping:
        print(f"kiss: the web server exited with code {web.returncode}; stopped the workers.", file=sys.stderr)
        return 1
    print("kiss: stopped.", file=sys.stderr)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    export_database_url()
    export_secret_key()
    return subprocess.call([sys.executable, "manage.py", "qcluster"], cwd=REPO,
                           env={**os.environ, "KISSWEB_WORKER_QUEUE": args.queue})


def cmd_manage(args: argparse.Namespace) -> int:
    export_database_url()
    export_secret_key()
    return subprocess.call([sys.executable, "manage.py", *args.rest], cwd=REPO)


def cmd_test(args: argparse.Namespace) -> int:
    export_database_url()
    os.environ["DJANGO_SETTINGS_MODULE"] = "kissweb.settings.test"
    return subprocess.call([sys.executable, "-m", "pytest", *args.rest], cwd=REPO)


def cmd_bench(args: argparse.Namespace) -> int:
    export_database_url()
    export_secret_key()
    script = REPO / "bench" / f"{args.name}.py"
    if not script.exists():
        names = sorted(p.stem for p in (REPO / "bench").glob("*.py") if not p.stem.startswith("_"))
        print(f"kiss: no benchmark '{args.name}'; choose one of: {', '.join(names)}", file=sys.stderr)
        return 2
    return subprocess.call([sys.executable, str(script), *args.rest], cwd=REPO)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kiss")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the web app and a task worker per queue")
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
    serve.add_argument("--host", default=os.environ.get("KISSWEB_HOST", "127.0.0.1"))
    serve.add_argument("--web-workers", type=int, default=2)
    serve.set_defaults(func=cmd_serve)
    worker = sub.add_parser("worker", help="run a task worker only (of one queue)")
    worker.add_argument("--queue", default=os.environ.get("KISSWEB_WORKER_QUEUE") or "work",
                        help="the queue it serves: work (default), downloads, exports or housekeeping (the sweeper)")
    worker.set_defaults(func=cmd_worker)
    for name, func in (("manage", cmd_manage), ("test", cmd_test)):
        p = sub.add_parser(name)
        p.add_argument("rest", nargs=argparse.REMAINDER)
        p.set_defaults(func=func)
    bench = sub.add_parser("bench")
    bench.add_argument("name")
    bench.add_argument("rest", nargs=argparse.REMAINDER)
    bench.set_defaults(func=cmd_bench)
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("test", "manage"):
        # Everything after the command belongs to pytest / manage.py, options included.
        return {"test": cmd_test, "manage": cmd_manage}[argv[0]](argparse.Namespace(rest=argv[1:]))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
