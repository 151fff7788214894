"""`./kiss bench scenes`: scene settings measured on held-out whole files, on generated clips."""

from __future__ import annotations

import json

from bench import scenes
from tests.bench.test_quality import grouped_spans  # noqa: F401  (the fixture)


def test_scene_grid_rows_cover_every_setting_and_mark_the_presets(grouped_spans, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "out"
    code = scenes.main([
        "--spans", str(grouped_spans), "--out", str(out), "--name", "s", "--cache-dir", str(tmp_path / "cache"),
        "--option", "looks=[]", "--min-frames", "2,4,10", "--thresholds", "0.7", "--cuts", "model,0.5",
        "--resamples", "20",
    ])
    assert code == 0
    result = json.loads((out / "s.json").read_text())
    (run,) = result["runs"]
    assert [(row["cut"], row["min_frames"]) for row in run["rows"]] == [
        ("model", 2), ("model", 4), ("model", 10), (0.5, 2), (0.5, 4), (0.5, 10),
    ]
    for row in run["rows"]:
        assert row["n_truth"] == 3  # one 3-second scene clip in each of the three sources
        if row["min_frames"] >= 4:  # every clip lasts 3 s: no scene can be 4 s long
            assert row["n_detected"] == 0 and row["recall"] == 0.0
    presets = {(row["cut"], row["min_frames"]): row["preset"] for row in run["rows"]}
    assert presets[(0.5, 2)] == "default" and presets[(0.5, 10)] == "paper" and presets[(0.5, 4)] == ""
    printed = capsys.readouterr().out
    assert "| 0.5 | 10 | 0.7 |" in printed and printed.rstrip().endswith("| paper |")
