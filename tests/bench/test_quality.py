"""`./kiss bench quality`: leave-one-group-out through the real training path, on generated clips."""

from __future__ import annotations

import json

import pytest

from bench import quality
from detector.dataset import read_items
from tests.detector.media import OTHERS, SCENE
from tests.mediagen import make_colour_video


@pytest.fixture(scope="module")
def grouped_spans(tmp_path_factory):
    folder = tmp_path_factory.mktemp("quality")
    rows = ["path,start_s,end_s,label,group"]
    for source in range(3):
        make_colour_video(folder / f"scene{source}.mp4", colour=SCENE[0], tone_hz=SCENE[1], duration_s=3.0)
        rows.append(f"scene{source}.mp4,0,3,1,source{source}")
        colour, tone = OTHERS[source % 2]
        make_colour_video(folder / f"other{source}.mp4", colour=colour, tone_hz=tone, duration_s=3.0)
        rows.append(f"other{source}.mp4,0,3,0,source{source}")
    make_colour_video(folder / "alone.mp4", colour=OTHERS[0][0], tone_hz=OTHERS[0][1], duration_s=3.0)
    rows.append("alone.mp4,0,3,0,lonely")
    (folder / "spans.csv").write_text("\n".join(rows) + "\n")
    return folder / "spans.csv"


def test_group_column_is_read(grouped_spans):
    items = read_items(grouped_spans, spans=True)
    assert [item.group for item in items][:3] == ["source0", "source0", "source1"]


def test_quality_bench_holds_out_whole_groups_and_writes_json_and_png(grouped_spans, tmp_path, capsys):
    out = tmp_path / "out"
    code = quality.main([
        "--spans", str(grouped_spans), "--out", str(out), "--name", "t", "--cache-dir", str(tmp_path / "cache"),
        "--transfer", str(grouped_spans),
    ])
    assert code == 0
    result = json.loads((out / "t.json").read_text())
    logo = result["logo"]
    assert [fold["group"] for fold in logo["folds"]] == ["source0", "source1", "source2", "lonely"]
    assert logo["n_clips"] == 7 and logo["n_seconds"] == 21 and logo["n_scene_seconds"] == 9
    for row in logo["per_clip"]:  # each clip was scored by the model trained without its group
        assert row["group"] in {"source0", "source1", "source2", "lonely"}
    at_cut = logo["at_model_cut"]
    (tn, fp), (fn, tp) = at_cut["confusion"]
    assert tn + fp + fn + tp == 21
    assert at_cut["f1"] == 1.0  # red + 880 Hz is the scene in every group: learnt without the held-out source
    assert (out / "t-pr.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert result["transfer"]["n_clips"] == 7 and (out / "t-transfer-pr.png").is_file()
    # the transfer rows of each group were also scored by the fold model that never saw that group
    assert result["transfer_logo"]["n_clips"] == 7 and result["transfer_logo"]["at_model_cut"]["f1"] == 1.0
    printed = capsys.readouterr().out
    assert "per-second F1 1.000" in printed and "| scene0.mp4 [0, 3) s | source0 | 1 |" in printed


def test_make_looks_renders_every_clip_in_every_look_with_its_group(tmp_path):
    from bench import make_looks
    from detector.decode import probe

    folder = tmp_path / "clips"
    folder.mkdir()
    make_colour_video(folder / "a.mp4", colour=SCENE[0], tone_hz=SCENE[1], duration_s=2.0)
    (folder / "spans.csv").write_text("path,start_s,end_s,label,group\na.mp4,0,2,1,src\n")
    assert make_looks.main(["--spans", str(folder / "spans.csv"), "--out", str(tmp_path / "looks")]) == 0
    rows = read_items(tmp_path / "looks" / "looks.csv", spans=True)
    assert sorted(row.path.parent.name for row in rows) == sorted(make_looks.LOOKS)
    assert {(row.group, row.label, row.start_s, row.end_s) for row in rows} == {("src", 1, 0.0, 2.0)}
    for row in rows:
        info = probe(row.path)
        assert info.duration_s == pytest.approx(2.0, abs=0.2)
        assert info.has_audio  # the soundtrack look adds sound; the others keep the clip's
