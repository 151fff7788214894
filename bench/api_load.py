"""Load test of the library list and the scene search: gunicorn (gthread) on loopback, driven by wrk.

Run: ./kiss bench api_load [--seconds 20] [--connections 32] [--runs 3] [--workers 2] [--threads 8] [--reseed]
Needs `wrk` (Debian: apt-get install -y wrk). Seeds the separate database kissweb_bench with 10,000 movies and
200,000 segments (bench/seed_library.py) unless it already holds them, starts gunicorn with that database,
and runs wrk `--runs` times per endpoint (alternating) with token auth: this shared machine's speed moves by up to
2x within minutes, so one run says little. A wrk Lua done() hook prints p50/p95/p99 and req/s as JSON.
Writes the figures to the top of bench/RESULTS-api.md (--no-write to skip), keeping the notes below MARKER.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.benchdb import database_ensure  # noqa: E402
from bench.seed_library import seed, setup_django  # noqa: E402

ENDPOINTS = {
    "scene search": "/api/segments/?scene_type=kissing&search=river",
    "library list": "/api/movies/?scene_type=kissing&min_segments=3",
}
REPORT_LUA = """
done = function(summary, latency, requests)
  local result = {
    requests = summary.requests,
    duration_s = summary.duration / 1e6,
    rps = summary.requests / (summary.duration / 1e6),
    errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status
             + summary.errors.timeout,
    p50_ms = latency:percentile(50) / 1000,
    p95_ms = latency:percentile(95) / 1000,
    p99_ms = latency:percentile(99) / 1000,
    max_ms = latency.max / 1000,
  }
  io.write("WRK_JSON ")
  local parts = {}
  for k, v in pairs(result) do parts[#parts + 1] = string.format('"%s": %s', k, v) end
  io.write("{" .. table.concat(parts, ", ") .. "}\\n")
end
"""




def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, token: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            request = urllib.request.Request(url, headers={"Authorization": f"Token {token}"})
            with urllib.request.urlopen(request, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"gunicorn did not answer {url} within {timeout_s:g} s")


def run_wrk(*, url: str, token: str, seconds: int, connections: int, threads: int, script: Path) -> dict:
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "--latency",
               "-s", str(script), "-H", f"Authorization: Token {token}", url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=True)
    line = next(line for line in done.stdout.splitlines() if line.startswith("WRK_JSON "))
    return json.loads(line.removeprefix("WRK_JSON "))


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/PID/stat after the command name (so index 0 is field 3, the state); None if the process is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def process_tree_cpu_s(root_pid: int) -> float:
    """User + system CPU seconds a process and its children used so far, those that exited included (a parent
    that reaps a child adds the child's time to its own cutime/cstime): Django reconnects to Postgres every
    CONN_MAX_AGE seconds, so backends come and go during a run."""
    root = _stat_fields(root_pid) or ["0"] * 15
    total = sum(int(value) for value in root[11:15])  # utime, stime, cutime, cstime
    for stat in Path("/proc").glob("[0-9]*/stat"):
        fields = _stat_fields(int(stat.parent.name))
        if fields and int(fields[1]) == root_pid:  # its parent
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def postmaster_pid() -> int:
    """The Postgres server's parent process (the benchmark reads its CPU, and its backends')."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        backend = cur.fetchone()[0]
    return int(_stat_fields(backend)[1])


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


MARKER = "<!-- Figures above are written by bench/api_load.py; the notes below are kept when it rewrites them. -->"


def write_results(path: Path, *, args, results: dict[str, list[dict]], seeded: dict, load_before: str,
                  load_after: str, payload_sizes: dict) -> None:
    lines = [
        "# API load: library list and scene search (issue 2)",
        "",
        f"Command: `./kiss bench api_load --seconds {args.seconds} --connections {args.connections} "
        f"--runs {args.runs} --workers {args.workers} --threads {args.threads}`",
        "",
        f"Database `kissweb_bench` on the local PostgreSQL 15: {seeded['movies']:,} movies, "
        f"{seeded['segments']:,} detected segments (bench/seed_library.py, COPY). "
        f"gunicorn gthread {args.workers} workers x {args.threads} threads on 127.0.0.1, DEBUG off; wrk "
        f"{args.connections} connections, {args.seconds} s per run, token auth, pages of 24. "
        f"Machine: {os.cpu_count()} cores shared by gunicorn, Postgres and wrk; load average before {load_before}, "
        f"after {load_after}.",
        "",
        "| endpoint | run | req/s | p50 ms | p95 ms | p99 ms | max ms | errors | server CPU ms/req "
        "(gunicorn + Postgres) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, runs in results.items():
        for number, r in enumerate(runs, start=1):
            lines.append(
                f"| {name} | {number} | {r['rps']:.0f} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['p99_ms']:.1f} "
                f"| {r['max_ms']:.0f} | {r['errors']} | {r['cpu_ms_per_request']:.2f} "
                f"({r['web_cpu_ms_per_request']:.2f} + {r['db_cpu_ms_per_request']:.2f}) |"
            )
    lines.append("")
    for name, runs in results.items():
        p95 = sorted(r["p95_ms"] for r in runs)
        lines.append(f"- {name} (`{ENDPOINTS[name]}`, {payload_sizes[name]:,} bytes): median p95 "
                     f"{p95[len(p95) // 2]:.1f} ms over {len(p95)} runs (best {p95[0]:.1f}, worst {p95[-1]:.1f}).")
    old = path.read_text() if path.exists() else ""
    notes = old.split(MARKER, 1)[1] if MARKER in old else "\n"
    path.write_text("\n".join(lines) + "\n\n" + MARKER + notes)


def measure(url: str, *, token: str, args, script: Path, server: subprocess.Popen) -> dict:
    """One wrk run against url, with the CPU the server side (gunicorn, the Postgres server) spent per request."""
    postgres = postmaster_pid()
    web_before, db_before = process_tree_cpu_s(server.pid), process_tree_cpu_s(postgres)
    r = run_wrk(url=url, token=token, seconds=args.seconds, connections=args.connections, threads=args.wrk_threads,
                script=script)
    n = max(r["requests"], 1)
    r["web_cpu_ms_per_request"] = (process_tree_cpu_s(server.pid) - web_before) * 1000 / n
    r["db_cpu_ms_per_request"] = (process_tree_cpu_s(postgres) - db_before) * 1000 / n
    r["cpu_ms_per_request"] = r["web_cpu_ms_per_request"] + r["db_cpu_ms_per_request"]
    return r


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)  # as ./kiss serve runs it
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--db", default="kissweb_bench")
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--only", choices=list(ENDPOINTS), action="append")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")

    database_url = database_ensure(args.db)
    setup_django(database_url)
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    from kissweb.library.models import Movie, Segment

    call_command("migrate", verbosity=0)
    if args.reseed or Movie.objects.count() != 10_000 or Segment.objects.count() != 200_000:
        seeded = seed(movies=10_000, segments=200_000)
        print(f"seeded in {seeded['seconds']} s", flush=True)
    else:
        seeded = {"movies": 10_000, "segments": 200_000}
    token = Token.objects.get(user=get_user_model().objects.get(username="bench")).key

    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "kissweb.settings.local",
           "DJANGO_DEBUG": "false", "KISSWEB_LOG_LEVEL": "WARNING"}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "kissweb.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--worker-class", "gthread", "--workers", str(args.workers), "--threads", str(args.threads),
         "--log-level", "warning"],
        cwd=REPO, env=env, start_new_session=True,
    )
    results: dict[str, list[dict]] = {}
    sizes = {}
    load_before = load_average()
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base + ENDPOINTS["library list"], token)
        with tempfile.TemporaryDirectory() as tmp:
            script = Path(tmp) / "report.lua"
            script.write_text(REPORT_LUA)
            names = args.only or list(ENDPOINTS)
            for name in names:
                request = urllib.request.Request(base + ENDPOINTS[name], headers={"Authorization": f"Token {token}"})
                with urllib.request.urlopen(request, timeout=10) as response:
                    body = json.loads(response.read())
                    sizes[name] = len(json.dumps(body))
                    print(f"{name}: count={body['count']} results={len(body['results'])}", flush=True)
                # A short warm-up so every worker thread has its database connection and imports.
                run_wrk(url=base + ENDPOINTS[name], token=token, seconds=2, connections=args.connections,
                        threads=args.wrk_threads, script=script)
            for number in range(1, args.runs + 1):
                for name in names:
                    r = measure(base + ENDPOINTS[name], token=token, args=args, script=script, server=server)
                    results.setdefault(name, []).append(r)
                    print(f"{name} run {number}: {r['rps']:.0f} req/s  p50 {r['p50_ms']:.1f} ms  "
                          f"p95 {r['p95_ms']:.1f} ms  p99 {r['p99_ms']:.1f} ms  errors {r['errors']}  "
                          f"server CPU {r['cpu_ms_per_request']:.2f} ms/request (gunicorn "
                          f"{r['web_cpu_ms_per_request']:.2f} + Postgres {r['db_cpu_ms_per_request']:.2f})", flush=True)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    load_after = load_average()
    print(f"load average before {load_before}, after {load_after}")
    if not args.no_write and not args.only:
        write_results(REPO / "bench" / "RESULTS-api.md", args=args, results=results, seeded=seeded,
                      load_before=load_before, load_after=load_after, payload_sizes=sizes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
