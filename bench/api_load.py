"""Load test of the library list and the scene search: gunicorn (gthread) on loopback, driven by wrk.

Run: ./kiss bench api_load [--seconds 20] [--connections 32] [--workers 2] [--threads 8] [--reseed]
Needs `wrk` (Debian: apt-get install -y wrk). Seeds the separate database kissweb_bench with 10,000 movies and
200,000 segments (bench/seed_library.py) unless it already holds them, starts gunicorn with that database,
and runs wrk once per endpoint with token auth. A wrk Lua done() hook prints p50/p95/p99 and req/s as JSON.
Writes the figures to bench/RESULTS-api.md (--no-write to skip) and prints them.
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

from bench.seed_library import bench_database_url, seed, setup_django  # noqa: E402

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


NOTES = """
## What the profile said, and what changed

Numbers from shorter runs on the same machine while it was as busy as above, so only the large steps are signal.

1. First version (ORM; per-movie totals as correlated COUNT/SUM subqueries over library_segment): the count and
   the page query each took about 130 ms (one index probe per movie for all 10,000 movies).
   Library list 36 req/s, p95 1,378 ms; scene search 53 req/s, p95 842 ms (10 s runs).
2. `MovieSceneStats` (per movie and scene type: segment count and seconds, kept by a trigger on library_segment,
   migration 0005), a newest-first index on movies and a trigram index on titles (where pg_trgm exists): the list
   page query walks the newest-first index and stops after 24 rows (0.15-0.25 ms); its count reads one index
   range of the totals (about 1 ms); the scene search count sums the totals of the movies whose title matches
   (about 2.5 ms) instead of counting 13,000 segments. The page counts stay exact (tests compare them).
3. Then Python was the cost: building the ORM queries took longer than Postgres ran them. The list and the
   search became plain SQL (whitelisted ORDER BY, bound parameters), and the per-request scene type, totals and
   count queries too, and the token lookup (one plain query instead of DRF's ORM query: 0.39 -> 0.13 ms).
   Python CPU per request (in-process, Django test client): library list 6.0 -> 4.0 ms, scene search -> 3.4 ms
   (before the token change). Server CPU per request (gunicorn + its Postgres backends) 7.5-8.0 -> 4-6 ms.
4. gunicorn gthread 2 workers x 8 threads (what `./kiss serve` runs) did best among 2x2, 2x4, 3x2, 3x4 and 2x8,
   but the machine's noise was larger than the differences.

## The target (p95 < 100 ms at 32 connections) is not met here

During these runs the 2 cores carried a load average of 10-15 (other engineers' test suites, ffmpeg, torch), so
the latency figures mostly measure the queue for a CPU. The server CPU per request is the figure that does not
depend on that: at 4-6 ms, 2 idle cores serve about 350-490 requests/s, which at 32 connections means a mean
latency of about 65-90 ms, so the target would still be borderline on an idle 2-core machine. What is left is
per-request framework work (Django middleware, DRF dispatch, rendering) and Postgres planning (about 1 ms for
the list query, as psycopg2 does not prepare statements; a generic prepared plan would lose the title-search
selectivity the planner needs, so that was not done). More web workers on more cores (docker-compose) is the
way past it.
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


def process_cpu_s(pids: list[int]) -> float:
    """User + system CPU seconds used so far by these processes (those that still exist)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of the whole line)
    return total / ticks


def server_pids(master_pid: int, database: str) -> tuple[list[int], list[int]]:
    """gunicorn's master and workers; the Postgres backends serving the benchmark database."""
    pids = [master_pid]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == master_pid:
                pids.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [database])
        backends = [row[0] for row in cur.fetchall()]
    return pids, backends


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def write_results(path: Path, *, args, results: dict, seeded: dict, load_before: str, load_after: str,
                  payload_sizes: dict) -> None:
    lines = [
        "# API load: library list and scene search (issue 2)",
        "",
        f"Command: `./kiss bench api_load --seconds {args.seconds} --connections {args.connections} "
        f"--workers {args.workers} --threads {args.threads}`",
        "",
        f"Database `kissweb_bench` on the local PostgreSQL 15: {seeded['movies']:,} movies, "
        f"{seeded['segments']:,} detected segments (bench/seed_library.py, COPY). "
        f"gunicorn gthread {args.workers} workers x {args.threads} threads on 127.0.0.1, DEBUG off; wrk "
        f"{args.connections} connections, {args.seconds} s per endpoint, token auth, pages of 24.",
        f"Machine: {os.cpu_count()} cores shared by gunicorn, Postgres, wrk and the other engineers' work; "
        f"load average before {load_before}, after {load_after}.",
        "",
        "| endpoint | path | req/s | p50 ms | p95 ms | p99 ms | max ms | errors | server CPU ms/req | body bytes |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, result in results.items():
        lines.append(
            f"| {name} | `{ENDPOINTS[name]}` | {result['rps']:.0f} | {result['p50_ms']:.1f} | {result['p95_ms']:.1f} "
            f"| {result['p99_ms']:.1f} | {result['max_ms']:.0f} | {result['errors']} "
            f"| {result['cpu_ms_per_request']:.2f} | {payload_sizes[name]:,} |"
        )
    path.write_text("\n".join(lines) + "\n" + NOTES)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=32)
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

    database_url = bench_database_url(args.db)
    setup_django(database_url)
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from kissweb.library.models import Movie, Segment

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
    results, sizes = {}, {}
    load_before = load_average()
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base + ENDPOINTS["library list"], token)
        with tempfile.TemporaryDirectory() as tmp:
            script = Path(tmp) / "report.lua"
            script.write_text(REPORT_LUA)
            for name in args.only or ENDPOINTS:
                request = urllib.request.Request(base + ENDPOINTS[name], headers={"Authorization": f"Token {token}"})
                with urllib.request.urlopen(request, timeout=10) as response:
                    body = json.loads(response.read())
                    sizes[name] = len(json.dumps(body))
                    print(f"{name}: count={body['count']} results={len(body['results'])}", flush=True)
                # A short warm-up so every worker thread has its database connection and imports.
                run_wrk(url=base + ENDPOINTS[name], token=token, seconds=2, connections=args.connections,
                        threads=args.wrk_threads, script=script)
                web_pids, db_pids = server_pids(server.pid, args.db)
                web_before, db_before = process_cpu_s(web_pids), process_cpu_s(db_pids)
                results[name] = run_wrk(url=base + ENDPOINTS[name], token=token, seconds=args.seconds,
                                        connections=args.connections, threads=args.wrk_threads, script=script)
                r = results[name]
                # CPU the server side (gunicorn + its Postgres backends) spent per request: unlike latency, this
                # does not depend on how busy the shared machine is.
                n = max(r["requests"], 1)
                r["web_cpu_ms_per_request"] = (process_cpu_s(web_pids) - web_before) * 1000 / n
                r["db_cpu_ms_per_request"] = (process_cpu_s(db_pids) - db_before) * 1000 / n
                r["cpu_ms_per_request"] = r["web_cpu_ms_per_request"] + r["db_cpu_ms_per_request"]
                print(f"{name}: {r['rps']:.0f} req/s  p50 {r['p50_ms']:.1f} ms  p95 {r['p95_ms']:.1f} ms  "
                      f"p99 {r['p99_ms']:.1f} ms  errors {r['errors']}  "
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
