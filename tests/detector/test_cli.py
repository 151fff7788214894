"""The command line: exit codes, JSON on stdout, clear errors without tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from detector.__main__ import main
from detector.head import SceneModel, load_model, make_card, save_model

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "detector", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_detect_without_model_exits_2_and_says_how_to_get_one(tmp_path, capsys):
    video = tmp_path / "movie.mp4"
    video.write_bytes(b"not needed")
    assert main(["detect", str(video)]) == 2
    err = capsys.readouterr().err
    assert "train --clips" in err and "import-reference-model" in err


def test_missing_model_file_is_one_sentence_no_traceback(tmp_path):
    video = tmp_path / "movie.mp4"
    video.write_bytes(b"x")
    result = run_cli("detect", str(video), "--model", str(tmp_path / "absent.safetensors"))
    assert result.returncode == 1
    assert "does not exist" in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_backbones_must_match_the_model(tmp_path, capsys):
    model = SceneModel(
        weight=np.zeros((2, 1408), np.float32), bias=np.zeros(2, np.float32),
        card=make_card(scene_type="kissing", backbone_set="offline", image_dim=1280, audio_dim=128),
    )
    path = save_model(model, tmp_path / "m.safetensors")
    video = tmp_path / "movie.mp4"
    video.write_bytes(b"x")
    assert main(["detect", str(video), "--model", str(path), "--backbones", "paper"]) == 1
    assert "'offline' features" in capsys.readouterr().err


def test_bad_training_csv_names_the_line(tmp_path, capsys):
    csv_path = tmp_path / "clips.csv"
    csv_path.write_text("path,label\nmissing.mp4,1\n")
    assert main(["train", "--clips", str(csv_path), "-o", str(tmp_path / "m")]) == 1
    err = capsys.readouterr().err
    assert "line 2" in err and "missing.mp4" in err
    assert not (tmp_path / "m.safetensors").exists()


def test_import_reference_model_writes_our_format(tmp_path, capsys):
    from tests.published_model import write_published_pickle

    module, pkl = write_published_pickle(tmp_path / "model.pkl", seed=1)
    assert main(["import-reference-model", str(pkl), "-o", str(tmp_path / "ref.safetensors")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["card_contents"]["channel_order"], out["card_contents"]["backbone_set"]) == ("BGR", "published")
    model = load_model(out["model"])
    np.testing.assert_array_equal(model.weight, module.combined.weight.detach().numpy())


def test_import_of_a_malicious_pickle_fails_cleanly(tmp_path):
    marker = tmp_path / "pwned"
    pkl = tmp_path / "model.pkl"
    pkl.write_bytes(
        b"cos\nsystem\n(V" + f"touch {marker}".encode() + b"\ntR."  # protocol 0: os.system("touch ...")
    )
    result = run_cli("import-reference-model", str(pkl), "-o", str(tmp_path / "out"))
    assert result.returncode == 1
    assert "refused" in result.stderr and "Traceback" not in result.stderr
    assert not marker.exists() and not (tmp_path / "out.safetensors").exists()


def test_unknown_command_is_a_usage_error():
    with pytest.raises(SystemExit) as exit_info:
        main(["frobnicate"])
    assert exit_info.value.code == 2


def test_train_defaults_to_the_fewshot_recipe_and_detect_to_its_cut(tmp_path, capsys):
    from tests.detector.media import OTHERS, SCENE, make_movie
    from tests.mediagen import make_colour_video

    rows = ["path,start_s,end_s,label,group"]
    for source in range(3):
        make_colour_video(tmp_path / f"s{source}.mp4", colour=SCENE[0], tone_hz=SCENE[1], duration_s=2.0)
        make_colour_video(tmp_path / f"o{source}.mp4", colour=OTHERS[source % 2][0], tone_hz=220, duration_s=2.0)
        rows += [f"s{source}.mp4,0,2,1,src{source}", f"o{source}.mp4,0,2,0,src{source}"]
    spans = tmp_path / "spans.csv"
    spans.write_text("\n".join(rows) + "\n")
    cache = str(tmp_path / "cache")
    assert main(["train", "--spans", str(spans), "-o", str(tmp_path / "m"), "--backbones", "offline",
                 "--cache-dir", cache]) == 0
    card = load_model(tmp_path / "m.safetensors").card
    assert card["recipe"]["name"] == "fewshot-v1" and card["recipe"]["audio"] is False
    assert card["recipe"]["looks"] == ["mirror", "old_film", "dark", "on_monitor", "warm_cast", "cool_night"]
    assert card["training"]["n_sources"] == 3 and card["scoring"]["smooth_s"] == 3
    capsys.readouterr()
    movie = make_movie(tmp_path / "movie.mp4", [(*OTHERS[0], 3.0), (*SCENE, 4.0)])
    assert main(["detect", str(movie), "--model", str(tmp_path / "m.safetensors"), "--min-frames", "2"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["cut"] == card["scoring"]["cut"]
    assert main(["detect", str(movie), "--model", str(tmp_path / "m.safetensors"), "--cut", "0.9"]) == 0
    assert json.loads(capsys.readouterr().out)["cut"] == 0.9

    assert main(["train", "--spans", str(spans), "-o", str(tmp_path / "p"), "--backbones", "offline",
                 "--cache-dir", cache, "--recipe", "paper"]) == 0
    paper = load_model(tmp_path / "p.safetensors").card
    assert paper["recipe"]["name"] == "paper" and "scoring" not in paper
    assert main(["train", "--spans", str(spans), "-o", str(tmp_path / "q"), "--backbones", "offline",
                 "--cache-dir", cache, "--recipe", "paper", "--looks", "mirror"]) == 1
    assert "few-shot recipe" in capsys.readouterr().err


def test_detect_scene_settings_come_from_the_named_preset_unless_given():
    from detector.__main__ import build_parser, scene_settings
    from detector.aggregate import DEFAULT_PRESET, PRESETS

    parser = build_parser()
    default = scene_settings(parser.parse_args(["detect", "m.mp4"]))
    assert default == {"min_frames": PRESETS[DEFAULT_PRESET].min_frames, "threshold": PRESETS[DEFAULT_PRESET].threshold}
    assert scene_settings(parser.parse_args(["detect", "m.mp4", "--preset", "paper"])) == {
        "min_frames": 10, "threshold": 0.7,
    }
    assert scene_settings(parser.parse_args(["detect", "m.mp4", "--preset", "paper", "--min-frames", "3"])) == {
        "min_frames": 3, "threshold": 0.7,
    }
