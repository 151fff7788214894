"""Benchmark: re-score a library of 100 two-hour movies after a model is activated, through the real service path.

Run: ./kiss bench rescore [--movies 100] [--hours 2] [--keep]

What it does, in its own database (kissweb_bench_rescore on the server of DATABASE_URL) and a temporary media folder:
1. seeds N movies of H hours (7200 one-second windows each for 2 h) with synthetic per-second embeddings
   (offline backbone set: 1280 image + 128 audio features) written with kissweb.analysis.storage, plus a few
   planted "scenes" per movie so the re-score writes real segments; no video file exists at all, so any attempt to
   decode would fail the run;
2. registers a real model file (detector.save_model) with services.model_version_create;
3. timed: services.model_version_activate (deactivate/activate + queue N rescore analyses on the task queue),
   then every queued analysis is run by services.analysis_run, the function the worker's task calls
   (claim, read stored embeddings, detector.score, detector.aggregate_probabilities, one write transaction);
4. the embeddings' pages are evicted from the page cache first (posix_fadvise DONTNEED), so files are read from disk.
Prints the total, per-stage sums and checks that every movie got its segments. Target: under 60 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.benchdb import database_drop, database_recreate  # noqa: E402

DB_NAME = "kissweb_bench_rescore"


def evict_from_page_cache(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--movies", type=int, default=100)
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--keep", action="store_true", help="keep the database and media folder afterwards")
    args = parser.parse_args()

    media = Path(tempfile.mkdtemp(prefix="kissweb-bench-rescore-"))
    os.environ["DATABASE_URL"] = database_recreate(DB_NAME)
    os.environ["KISSWEB_DATA_DIR"] = str(media)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kissweb.settings.local")
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from detector.head import SceneModel, make_card, save_model
    from kissweb.analysis import services, storage
    from kissweb.analysis.models import Analysis, AnalysisStatus, MovieEmbedding
    from kissweb.library.models import Movie, SceneType, Segment

    try:
        call_command("migrate", interactive=False, verbosity=0)
        n_windows = int(args.hours * 3600)
        image_dim, audio_dim = 1280, 128
        user = get_user_model().objects.create_user(username="bench", password="bench-pass-123")
        rng = np.random.default_rng(0)
        started = time.perf_counter()
        planted = {}
        for index in range(args.movies):
            movie = Movie.objects.create(
                title=f"Bench movie {index}", original_filename=f"m{index}.mkv", file=f"movies/absent-{index}.mkv",
                size_bytes=1, sha256=f"{index:064x}", duration_s=float(n_windows), width=1280, height=720, fps=24.0,
                has_audio=True, uploaded_by=user, status="ready", progress=1.0,
            )
            features = rng.normal(0, 1, (n_windows, image_dim + audio_dim)).astype(np.float32)
            features[:, 0] = 0.0
            starts = np.sort(rng.choice(np.arange(0, n_windows - 40, 60), size=20, replace=False))
            for s in starts:
                features[s : s + 15, 0] = 1.0
            planted[movie.pk] = len(starts)
            name = storage.embeddings_write(features=features, movie_id=movie.pk, backbone_set="offline")
            MovieEmbedding.objects.create(
                movie=movie, backbone_set="offline", file=name, n_windows=n_windows, image_dim=image_dim,
                audio_dim=audio_dim,
            )
        seed_s = time.perf_counter() - started
        embedding_bytes = sum(p.stat().st_size for p in (Path(settings.MEDIA_ROOT) / "embeddings").iterdir())
        print(f"seeded {args.movies} movies x {n_windows} windows in {seed_s:.1f} s; "
              f"embeddings on disk: {embedding_bytes / 1e9:.2f} GB (float16)")

        weight = np.zeros((2, image_dim + audio_dim), np.float32)
        weight[1, 0], weight[1, 1:] = 20.0, rng.normal(0, 0.01, image_dim + audio_dim - 1)
        card = make_card(scene_type="kissing", backbone_set="offline", image_dim=image_dim, audio_dim=audio_dim)
        model_path = save_model(SceneModel(weight=weight, bias=np.array([0, -10], np.float32), card=card),
                                media / "bench-model.safetensors")
        kissing = SceneType.objects.get(slug="kissing")
        version = services.model_version_create(scene_type=kissing, file=model_path, name="bench")

        for path in (Path(settings.MEDIA_ROOT) / "embeddings").iterdir():
            evict_from_page_cache(path)
        load_before = os.getloadavg()

        started = time.perf_counter()
        plan = services.model_version_activate(model_version=version)
        activate_s = time.perf_counter() - started
        outcomes = [services.analysis_run(analysis_id=pk) for pk in plan.rescore]
        total_s = time.perf_counter() - started

        stages: dict[str, float] = {}
        for timings in Analysis.objects.filter(pk__in=plan.rescore).values_list("timings_s", flat=True):
            for key, value in timings.items():
                if key != "total":
                    stages[key] = stages.get(key, 0.0) + float(value)
        ok = outcomes.count("succeeded")
        segments = Segment.objects.filter(source="detected").count()
        expected = sum(planted.values())
        print(f"activate + queue {len(plan.rescore)} re-scores: {activate_s:.2f} s")
        print(f"re-scored {ok}/{args.movies} movies ({args.movies * n_windows:,} windows) in {total_s:.1f} s "
              f"= {total_s / args.movies * 1000:.0f} ms per movie; target < 60 s: {'MET' if total_s < 60 else 'MISSED'}")
        print("per-stage sums (s): " + ", ".join(f"{k} {v:.2f}" for k, v in sorted(stages.items())))
        print(f"detected segments written: {segments} (planted scenes: {expected})")
        print(f"load average before: {load_before[0]:.2f} {load_before[1]:.2f}; after: "
              f"{os.getloadavg()[0]:.2f}; cpus: {os.cpu_count()}")
        failed = Analysis.objects.exclude(run__status=AnalysisStatus.SUCCEEDED).filter(pk__in=plan.rescore).count()
        return 0 if ok == args.movies and failed == 0 and segments == expected else 1
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            database_drop(DB_NAME)
            shutil.rmtree(media, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
