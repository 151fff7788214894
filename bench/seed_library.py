"""Seed a separate benchmark database with a large library: movies, analyses, detected segments, a user + token.

Run: ./kiss bench seed_library [--movies 10000] [--segments 200000] [--db kissweb_bench]
(or imported by bench/api_load.py). Rows go in with COPY, so 200,000 segments take seconds, not minutes; the
database rules (overlap exclusion, end <= duration trigger) still check every row. Nothing is written to media/.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.benchdb import database_ensure  # noqa: E402

WORDS = (
    "silent river night love summer paris rain letter garden winter moon station midnight harbor secret "
    "stranger city island road dance last first kiss heart ocean train window shadow golden forest song"
).split()
BENCH_USER = "bench"
BENCH_PASSWORD = "bench-pass-123"


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kissweb.settings.local")
    import django

    django.setup()


def _copy(cur, table: str, columns: list[str], rows) -> None:
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join("\\N" if v is None else str(v) for v in row))
        buffer.write("\n")
    buffer.seek(0)
    cur.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buffer)


def segment_counts(n_movies: int, n_segments: int, rng: random.Random) -> list[int]:
    """Segments per movie: 0..40 (some movies have none), summing to exactly n_segments."""
    counts = [rng.randint(0, 40) for _ in range(n_movies)]
    diff = n_segments - sum(counts)
    while diff:
        i = rng.randrange(n_movies)
        step = 1 if diff > 0 else -1
        if 0 <= counts[i] + step <= 60:
            counts[i] += step
            diff -= step
    return counts


def seed(*, movies: int, segments: int, seed_value: int = 0) -> dict:
    """Replace the library's rows with a generated one. Returns {token, movies, segments, seconds}."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from rest_framework.authtoken.models import Token

    from kissweb.analysis.models import ModelVersion
    from kissweb.library.models import SceneType

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    rng = random.Random(seed_value)
    with connection.cursor() as cur:
        cur.execute(
            "TRUNCATE library_annotation, library_segment, library_scoretrack, library_movieembedding, "
            "library_analysis_model_versions, library_analysis, library_movie, library_scenecountbucket "
            "RESTART IDENTITY CASCADE"
        )
    User = get_user_model()
    user, _ = User.objects.get_or_create(username=BENCH_USER)
    user.set_password(BENCH_PASSWORD)
    user.save()
    token, _ = Token.objects.get_or_create(user=user)
    kissing = SceneType.objects.get(slug="kissing")
    model = ModelVersion.objects.filter(scene_type=kissing, is_active=True).first() or ModelVersion.objects.create(
        scene_type=kissing, name="bench", backbone_set="offline", is_active=True
    )

    durations = [rng.uniform(4800, 9000) for _ in range(movies)]
    counts = segment_counts(movies, segments, rng)
    with connection.cursor() as cur:
        _copy(
            cur, "library_movie",
            ["id", "title", "year", "original_filename", "file", "poster", "size_bytes", "sha256", "duration_s",
             "width", "height", "fps", "has_audio", "container", "video_codec", "uploaded_by_id", "created_at",
             "status", "progress", "eta_s", "error"],
            (
                (i, f"The {rng.choice(WORDS).title()} {rng.choice(WORDS).title()} {i}", rng.randint(1930, 2024),
                 f"movie{i}.mp4", f"movies/{i:032x}.mp4", f"posters/{i:032x}.jpg", rng.randint(10**8, 10**10),
                 f"{i:064x}", round(durations[i - 1], 3), 1280, 720, 25, "t", "mp4", "h264", user.pk,
                 "2026-01-01 00:00:00+00", "ready", 1.0, None, "")
                for i in range(1, movies + 1)
            ),
        )
        # Distinct creation times (newest = highest id), as a real library has.
        cur.execute("UPDATE library_movie SET created_at = timestamptz '2026-01-01' + id * interval '1 minute'")
        _copy(
            cur, "library_analysis",
            ["id", "movie_id", "kind", "status", "attempts", "progress", "stage", "queued_at", "started_at",
             "finished_at", "timings_s", "backbone_set", "changes", "task_id", "error"],
            (
                (i, i, "analyze", "succeeded", 1, 1.0, "done", "2026-01-01 00:00:00+00", "2026-01-01 00:00:00+00",
                 "2026-01-01 00:10:00+00", "{}", "offline", "{}", "", "")
                for i in range(1, movies + 1)
            ),
        )

        def segment_rows():
            for movie_id, (n, duration) in enumerate(zip(counts, durations), start=1):
                slot = duration / max(n, 1)
                for k in range(n):
                    start = k * slot + rng.uniform(0, slot / 2)
                    end = min(start + rng.uniform(5, min(60, slot / 2)), duration)
                    yield (round(start, 3), round(end, 3), round(rng.uniform(0.5, 1.0), 4), "detected",
                           "2026-01-02 00:00:00+00", movie_id, movie_id, model.pk, kissing.pk)

        _copy(
            cur, "library_segment",
            ["start_s", "end_s", "confidence", "source", "created_at", "analysis_id", "movie_id", "model_version_id",
             "scene_type_id"],
            segment_rows(),
        )
        for table in ("library_movie", "library_analysis", "library_segment"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        # As autovacuum would before long: planner statistics, and visibility maps for index-only scans.
        cur.execute("VACUUM ANALYZE library_moviescenestats")
        cur.execute("VACUUM ANALYZE library_scenecountbucket")
        cur.execute("VACUUM ANALYZE library_movie")
        cur.execute("VACUUM ANALYZE library_segment")
        cur.execute("ANALYZE library_analysis")
        cur.execute("SELECT count(*) FROM library_movie")
        n_movies = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM library_segment")
        n_segments = cur.fetchone()[0]
    return {"token": token.key, "movies": n_movies, "segments": n_segments,
            "seconds": round(time.perf_counter() - started, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--movies", type=int, default=10_000)
    parser.add_argument("--segments", type=int, default=200_000)
    parser.add_argument("--db", default="kissweb_bench")
    args = parser.parse_args()
    setup_django(database_ensure(args.db))
    result = seed(movies=args.movies, segments=args.segments)
    print(f"seeded {result['movies']} movies and {result['segments']} segments in {result['seconds']} s "
          f"(database {args.db}, user {BENCH_USER}, token {result['token']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
