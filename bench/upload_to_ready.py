"""Benchmark: time from upload to `ready` for a 5-minute 720p movie, split by stage.

Run: ./kiss bench upload_to_ready [--minutes 5] [--size 1280x720] [--keep]

In its own database (kissweb_bench_upload) and media folder: generates an H.264 + AAC movie (testsrc2 + sine),
registers and activates a kissing model for the backbone set this install embeds with (random weights: the point is
the work, not the verdict), starts a real `manage.py qcluster` worker, uploads the movie through the API
(POST /api/movies/), and polls until the movie is ready. Prints the upload request time, the queue wait, the
worker's per-stage timings (decode/embed, store, score, aggregate, write) and the total, with the machine's load.
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

DB_NAME = "kissweb_bench_upload"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="kissweb-bench-upload-"))
    os.environ["DATABASE_URL"] = database_recreate(DB_NAME)
    os.environ["KISSWEB_DATA_DIR"] = str(work / "data")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kissweb.settings.local")
    os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver,localhost"
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from rest_framework.test import APIClient

    import detector
    from detector.head import SceneModel, make_card, save_model
    from kissweb.analysis import services
    from kissweb.analysis.models import Analysis
    from kissweb.library.models import Movie, SceneType
    from tests.mediagen import make_video
    from tests.qcluster import QCluster

    worker = None
    try:
        call_command("migrate", interactive=False, verbosity=0)
        duration_s = args.minutes * 60
        started = time.perf_counter()
        movie_path = make_video(work / "bench.mp4", duration_s=duration_s, size=args.size, fps=24,
                                audio="sine=frequency=440:sample_rate=48000")
        print(f"generated {movie_path.stat().st_size / 1e6:.0f} MB {args.size} H.264+AAC, {duration_s:.0f} s "
              f"in {time.perf_counter() - started:.1f} s")

        backbone_set = detector.resolve_backbone_set("auto")
        image_dim, audio_dim = detector.BACKBONE_DIMS[backbone_set]
        rng = np.random.default_rng(0)
        card = make_card(scene_type="kissing", backbone_set=backbone_set, image_dim=image_dim, audio_dim=audio_dim)
        model_path = save_model(
            SceneModel(weight=rng.normal(0, 0.05, (2, image_dim + audio_dim)).astype(np.float32),
                       bias=np.zeros(2, np.float32), card=card),
            work / "model.safetensors",
        )
        kissing = SceneType.objects.get(slug="kissing")
        services.model_version_activate(
            model_version=services.model_version_create(scene_type=kissing, file=model_path, name="bench")
        )
        user = get_user_model().objects.create_user(username="bench", password="bench-pass-123")

        os.environ["KISSWEB_TEST_MEDIA_ROOT"] = str(settings.MEDIA_ROOT)
        timeout_s = int(settings.Q_CLUSTER["timeout"])
        worker = QCluster(log_path=work / "qcluster.log", timeout_s=timeout_s, retry_s=int(settings.Q_CLUSTER["retry"]))
        worker.start()
        load_before = os.getloadavg()

        client = APIClient()
        client.force_authenticate(user=user)
        t0 = time.perf_counter()
        with open(movie_path, "rb") as handle:
            response = client.post("/api/movies/", {"file": handle, "title": "Bench"}, format="multipart")
        upload_s = time.perf_counter() - t0
        if response.status_code != 201:
            print(f"upload failed: {response.status_code} {response.content[:300]!r}")
            return 1
        movie_id = response.json()["id"]
        progress_updates = 0
        last_progress = -1.0
        last_change = None
        longest_gap_s = 0.0
        first_progress_s = None
        while True:
            movie = Movie.objects.get(pk=movie_id)
            if movie.progress != last_progress:
                now = time.perf_counter()
                if movie.status == "analyzing" and last_change is not None and last_progress > 0:
                    longest_gap_s = max(longest_gap_s, now - last_change)
                if movie.status == "analyzing" and movie.progress > 0 and first_progress_s is None:
                    first_progress_s = now - t0
                progress_updates += 1
                last_progress, last_change = movie.progress, now
            if movie.status in ("ready", "failed"):
                break
            if time.perf_counter() - t0 > timeout_s:
                print("timed out waiting for ready")
                return 1
            time.sleep(0.5)
        total_s = time.perf_counter() - t0
        if movie.status != "ready":
            print(f"analysis failed: {movie.error}")
            return 1
        analysis = Analysis.objects.get(movie_id=movie_id)
        queue_wait_s = (analysis.started_at - analysis.queued_at).total_seconds()
        timings = analysis.timings_s
        print(f"upload request (stream to disk, probe, hash, poster, row, queue): {upload_s:.1f} s")
        print(f"queue wait (commit -> worker claims): {queue_wait_s:.1f} s")
        print("worker stages (s): " + ", ".join(f"{k} {v}" for k, v in sorted(timings.items())))
        print(f"upload to ready: {total_s:.1f} s for a {duration_s:.0f} s movie = {duration_s / total_s:.2f}x real time;"
              f" backbones: {analysis.backbone_set}")
        print(f"progress changes seen (polling every 0.5 s): {progress_updates}; first progress above 0 at "
              f"{first_progress_s or 0:.1f} s after the upload started; longest gap between two changes after that: "
              f"{longest_gap_s:.1f} s")
        print(f"load average before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}; after: "
              f"{os.getloadavg()[0]:.2f}; cpus: {os.cpu_count()}")
        return 0
    finally:
        if worker is not None:
            worker.stop()
        if not args.keep:
            from django.db import connections

            connections.close_all()
            database_drop(DB_NAME)
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
