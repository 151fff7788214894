"""The issue's "Done when": the CLI trains on generated clips, then `detect` finds the scene in a longer movie."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.detector.media import OTHERS, SCENE, make_movie, make_training_clips

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "detector", *args], cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


@pytest.mark.slow
def test_cli_trains_then_detects_the_labelled_span(tmp_path):
    clips_csv = make_training_clips(tmp_path / "clips", per_class=4)
    model_path = tmp_path / "kissing.safetensors"
    trained = cli("train", "--clips", str(clips_csv), "-o", str(model_path), "--backbones", "offline",
                  "--epochs", "20", "--cache-dir", str(tmp_path / "cache"))
    assert trained.returncode == 0, trained.stderr
    report = json.loads(trained.stdout)
    # the default for the offline set is the few-shot recipe: validation is out-of-fold over the clips
    assert report["metrics"]["validation"]["f1"] == 1.0 and report["metrics"]["test"] is None
    assert {row["clip"].split("/")[-1] for row in report["metrics"]["per_group"]}
    from detector.head import load_model

    card = load_model(model_path).card
    assert card["recipe"]["name"] == "fewshot-v1" and card["recipe"]["looks"]
    assert card["scoring"]["smooth_s"] == 3 and 0.5 <= card["scoring"]["cut"] < 1.0

    movie = make_movie(tmp_path / "movie.mp4", [(*OTHERS[0], 14.0), (*SCENE, 16.0), (*OTHERS[1], 10.0)])
    found = cli("detect", str(movie), "--model", str(model_path), "--json")
    assert found.returncode == 0, found.stderr
    result = json.loads(found.stdout)
    assert result["duration_s"] == pytest.approx(40.0, abs=0.1)
    assert len(result["scores"]) == 40
    # 3-second smoothing may give up the first and last second at a sharp edge between very sure seconds
    ((start, end),) = [(s["start_s"], s["end_s"]) for s in result["segments"]]
    assert 14.0 <= start <= 15.0 and 29.0 <= end <= 30.0
    assert result["model"]["scene_type"] == "kissing"
    assert result["cut"] == card["scoring"]["cut"]  # detect's default cut is the card's calibrated one

    evaluated = cli("evaluate", "--clips", str(clips_csv), "--model", str(model_path),
                    "--cache-dir", str(tmp_path / "cache"))
    assert evaluated.returncode == 0, evaluated.stderr
    assert json.loads(evaluated.stdout)["f1"] == 1.0

    embedded = cli("embed", str(movie), "-o", str(tmp_path / "movie.npz"), "--backbones", "offline")
    assert embedded.returncode == 0, embedded.stderr
    import numpy as np

    with np.load(tmp_path / "movie.npz", allow_pickle=False) as data:
        assert data["image"].shape == (40, 1280) and data["audio"].shape == (40, 128)
        assert data["times_s"].tolist() == [float(k) for k in range(40)]
