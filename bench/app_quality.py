"""What the scene type page shows as cross-validated quality when the labelled real clips are in the library.

Each clip of the labels CSV (`path,start_s,end_s,label[,group]`, paths relative to the CSV) becomes a movie of a
throw-away library: linked (never copied) into a temporary media folder, analysed by the real pipeline (the backbone
set new analyses use here), and its span labelled as people label it in the player. Then the page's own service,
`kissweb.training.services.quality_estimate_compute` (k-fold over movies), measures the labels, and the figure is
printed as the page shows it. The database and the media folder are removed at the end.

    ./kiss bench app_quality [--spans ../shared/media/labels.csv]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.benchdb import database_drop, database_recreate  # noqa: E402

DEFAULT_SPANS = REPO.parent / "shared" / "media" / "labels.csv"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def library_build(spans_csv: Path, media: Path, *, owner, scene_type) -> list[dict]:
    """One analysed movie per clip, its labelled span annotated; returns what was made."""
    import detector

    from kissweb.analysis import pipeline, services
    from kissweb.library.models import Annotation, Movie

    made = []
    with spans_csv.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        source = (spans_csv.parent / row["path"]).resolve()
        name = f"movies/{len(made):03d}{source.suffix}"
        (media / "movies").mkdir(parents=True, exist_ok=True)
        (media / name).symlink_to(source)
        info = detector.probe(source)
        movie = Movie.objects.create(
            title=source.name, original_filename=source.name, file=name, size_bytes=source.stat().st_size,
            sha256=_sha256(source), duration_s=info.duration_s, width=info.width, height=info.height, fps=info.fps,
            has_audio=info.has_audio, uploaded_by=owner,
        )
        started = time.perf_counter()
        outcome = pipeline.analysis_run(analysis_id=services.analysis_request(movie=movie).pk)
        label = "positive" if row["label"].strip() == "1" else "negative"
        # The CSV rounds clip ends to 0.01 s; the player cannot mark past the end of the movie.
        end_s = min(float(row["end_s"]), movie.duration_s)
        Annotation.objects.create(movie=movie, scene_type=scene_type, start_s=float(row["start_s"]), end_s=end_s,
                                  label=label, author=owner)
        made.append({"clip": row["path"], "label": label, "analysis": outcome,
                     "analyse_s": round(time.perf_counter() - started, 2)})
        print(json.dumps(made[-1]), flush=True)
    return made


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spans", type=Path, default=DEFAULT_SPANS)
    args = parser.parse_args()
    spans_csv = args.spans.resolve()
    if not spans_csv.is_file():
        raise SystemExit(f"{spans_csv} not found; pass --spans CSV (path,start_s,end_s,label).")

    db_name = f"kissweb_bench_app_quality_{os.getpid()}"
    os.environ["DATABASE_URL"] = database_recreate(db_name)
    data_dir = Path(tempfile.mkdtemp(prefix="kissweb-bench-app-quality-"))
    os.environ["KISSWEB_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kissweb.settings.local")
    try:
        import django

        django.setup()
        from django.conf import settings
        from django.contrib.auth import get_user_model
        from django.core.management import call_command

        from kissweb.library.models import SceneType
        from kissweb.training import services

        call_command("migrate", verbosity=0)
        owner = get_user_model().objects.create_user(username="bench", password="bench-pass-123")
        scene_type = SceneType.objects.get(slug="kissing")
        made = library_build(spans_csv, Path(settings.MEDIA_ROOT), owner=owner, scene_type=scene_type)
        estimate = services.quality_estimate_compute(scene_type=scene_type)
        m = estimate.metrics
        print(json.dumps({
            "clips": len(made), "failed_analyses": [c["clip"] for c in made if c["analysis"] != "succeeded"],
            "backbone_set": estimate.backbone_set, "n_seconds": estimate.n_seconds,
            "n_scene_seconds": estimate.n_scene_seconds, "n_movies": estimate.n_movies,
            "n_scene_movies": estimate.n_scene_movies, "n_folds": estimate.n_folds, "enough": estimate.enough,
            "metrics": m, "warnings": estimate.warnings, "cross_validation_s": estimate.duration_s,
        }, indent=2))
        print(
            f"The page shows: F1 {m['f1']:.1%}, precision {m['precision']:.1%}, recall {m['recall']:.1%}, "
            f"{m['false_alarms_per_10_min']:.1f} false-alarm s per 10 min; rests on {estimate.n_seconds} labelled "
            f"seconds ({estimate.n_scene_seconds} of the scene) in {estimate.n_movies} movies, {estimate.n_folds} "
            f"folds{'' if estimate.enough else ' (warned: too few)'}."
        )
    finally:
        from django.db import connections

        connections.close_all()
        database_drop(db_name)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
