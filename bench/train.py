"""How long a training run takes through the real service path, for 1,000 and 20,000 annotated seconds.

Synthetic per-second embeddings (offline backbone set: 1280 image + 128 audio dims, stored as analysis stores them)
on 600-second movies, 20-second spans, half positive, half negative. It runs in a throw-away database on the
server `./kiss` found and a temporary media folder, both removed at the end.

    ./kiss bench train [--sizes 1000 20000] [--repeats 1]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.benchdb import database_drop, database_recreate  # noqa: E402

MOVIE_S = 600
SPAN_S = 20
SPANS_PER_MOVIE = 10
DIM = 1280 + 128


def library_build(n_seconds: int, *, owner, scene_type, seed: int) -> None:
    """Movies with stored embeddings and annotated spans totalling n_seconds (half positive, half negative)."""
    from kissweb.analysis import storage
    from kissweb.analysis.models import MovieEmbedding
    from kissweb.library.models import Annotation, Movie

    rng = np.random.default_rng(seed)
    direction = rng.standard_normal(DIM).astype(np.float32)
    direction /= np.linalg.norm(direction)
    n_spans = n_seconds // SPAN_S
    n_movies = -(-n_spans // SPANS_PER_MOVIE)
    made = 0
    for m in range(n_movies):
        movie = Movie.objects.create(
            title=f"bench {seed}-{m}", original_filename="bench.mp4", file=f"movies/bench-{seed}-{m}.mp4",
            size_bytes=1, sha256=f"{seed:08x}{m:056x}", duration_s=MOVIE_S, width=640, height=360, fps=25,
            has_audio=True, uploaded_by=owner,
        )
        kinds = rng.integers(0, 2, MOVIE_S // SPAN_S).repeat(SPAN_S)
        spans = []
        for k in range(SPANS_PER_MOVIE):
            if made == n_spans:
                break
            label = made % 2
            start = 2 * k * SPAN_S  # every other 20 s block is annotated
            kinds[start:start + SPAN_S] = label
            spans.append(Annotation(movie=movie, scene_type=scene_type, start_s=start, end_s=start + SPAN_S,
                                    label="positive" if label else "negative", author=owner))
            made += 1
        features = rng.standard_normal((MOVIE_S, DIM)).astype(np.float32)
        features += np.outer(kinds * 2.0 - 1.0, direction).astype(np.float32) * 1.5
        name = storage.embeddings_write(features=features, movie_id=movie.pk, backbone_set="offline")
        MovieEmbedding.objects.create(movie=movie, backbone_set="offline", file=name, n_windows=MOVIE_S,
                                      image_dim=1280, audio_dim=128)
        Annotation.objects.bulk_create(spans)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 20000])
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()

    db_name = f"kissweb_bench_training_{os.getpid()}"
    bench_url = database_recreate(db_name)
    media = Path(tempfile.mkdtemp(prefix="kissweb-bench-train-"))
    os.environ["DATABASE_URL"] = bench_url
    os.environ["KISSWEB_DATA_DIR"] = str(media)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kissweb.settings.local")
    try:
        import django

        django.setup()
        from django.contrib.auth import get_user_model
        from django.core.management import call_command

        from kissweb.library.models import Annotation, SceneType
        from kissweb.training import services

        call_command("migrate", verbosity=0)
        owner = get_user_model().objects.create_user(username="bench", password="bench-pass-123")
        import torch

        results = []
        for size in args.sizes:
            scene_type = SceneType.objects.create(slug=f"bench-{size}", name=f"bench {size}")
            started = time.perf_counter()
            library_build(size, owner=owner, scene_type=scene_type, seed=size)
            build_s = time.perf_counter() - started
            assert Annotation.objects.filter(scene_type=scene_type).count() == size // SPAN_S
            for repeat in range(args.repeats):
                started = time.perf_counter()
                run = services.training_request(scene_type=scene_type, requested_by=owner, queue=False)
                run = services.training_run(run_id=run.pk)
                wall = time.perf_counter() - started
                assert run.status == "succeeded", run.error
                metrics = run.model_version.metrics
                row = {
                    "annotated_seconds": run.n_seconds, "spans": run.n_spans, "movies": run.n_movies,
                    "repeat": repeat, "wall_s": round(wall, 3), "stages_s": run.timings_s,
                    "epochs": run.model_version.card["training"]["epochs"], "heldout_f1": round(metrics["f1"], 4),
                    "library_build_s": round(build_s, 1),
                }
                results.append(row)
                print(json.dumps(row), flush=True)
        print(json.dumps({
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
            "torch_threads": torch.get_num_threads(), "results": results,
        }, indent=2))
    finally:
        from django.db import connections

        connections.close_all()
        database_drop(db_name)
        shutil.rmtree(media, ignore_errors=True)


if __name__ == "__main__":
    main()
