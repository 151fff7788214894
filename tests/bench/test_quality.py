"""`./kiss bench quality`: leave-one-group-out through the real training path, on generated clips."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
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
    # the protocol's figures: a perfect held-out scorer has F1 and AP 1 with degenerate intervals over sources
    seconds = result["protocol"]["per_second"]
    assert seconds["f1"] == 1.0 and seconds["average_precision"] == 1.0 and seconds["false_alarms_per_10_min"] == 0
    for name in ("f1", "precision", "recall", "average_precision"):
        assert seconds["interval"][name]["low"] == seconds["interval"][name]["high"] == 1.0
    assert seconds["interval"]["f1"]["resamples"] == 1000 and seconds["interval"]["f1"]["seed"] == 0
    scenes = result["protocol"]["scenes"]
    assert scenes["n_truth"] == 3 and scenes["false_scenes"] == 0 and scenes["settings"]["min_iou"] == 0.3
    assert "| per-second F1 (at the model's cut) | 1.00 [1.00, 1.00] |" in printed


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


def test_second_figures_of_a_known_scorer_by_hand():
    units = [
        {"y": np.array([1, 0, 0]), "p": np.array([0.9, 0.8, 0.1]), "predicted": np.array([True, True, False])},
        {"y": np.array([1, 0]), "p": np.array([0.7, 0.2]), "predicted": np.array([False, False])},
    ]
    figures = quality.second_figures(units)
    # ranked 0.9 (1), 0.8 (0), 0.7 (1): AP (1 + 2/3) / 2; tp 1, fp 1, fn 1; 1 false second in 3 not-scene seconds
    assert figures["average_precision"] == pytest.approx(5 / 6)
    assert figures["f1"] == pytest.approx(0.5) and figures["precision"] == 0.5 and figures["recall"] == 0.5
    assert figures["false_alarms_per_10_min"] == pytest.approx(200.0)
    no_scene = {"y": np.array([0]), "p": np.array([0.1]), "predicted": np.array([False])}
    assert np.isnan(quality.second_figures([no_scene])["f1"])  # a draw without scene seconds is undefined


def test_scene_units_aggregate_whole_files_and_judge_only_labelled_seconds(tmp_path):
    from detector.dataset import LabelledItem

    movie, clip = tmp_path / "movie.mp4", tmp_path / "clip.mp4"
    items = [
        LabelledItem(path=movie, label=0, start_s=0.0, end_s=4.0, group="a"),
        LabelledItem(path=movie, label=1, start_s=4.0, end_s=8.0, group="a"),
        LabelledItem(path=movie, label=0, start_s=8.0, end_s=10.0, group="a"),  # 10..16 unlabelled
        LabelledItem(path=clip, label=0, group="b"),  # a whole not-kiss clip
    ]
    times = np.arange(16, dtype=np.float64)
    #                  0    1    2    3    4    5    6    7    8    9    10   11   12   13   14   15
    movie_p = np.array([.1, .1, .1, .1, .2, .9, .9, .9, .9, .1, .1, .1, .1, .9, .9, .9])
    clip_p = np.array([.9, .9, .9, .1, .1, .1])
    files = {
        movie: {"times": times, "probabilities": movie_p, "cut": 0.5, "group": "a"},
        clip: {"times": times[:6], "probabilities": clip_p, "cut": 0.95, "group": "b"},
    }
    units = quality.scene_units(items, files, cut=0.5, min_frames=3, threshold=0.7)
    by_group = {unit["group"]: unit for unit in units}
    # movie: scenes [5, 9) (IoU 3/5 with the kiss [4, 8): found) and [13, 16) (unlabelled: unjudged)
    a = by_group["a"]["match"]
    assert (a.n_truth, a.n_detected, a.matched, a.false_scenes, a.unjudged) == (1, 2, 1, 0, 1)
    assert by_group["a"]["negative_s"] == 6
    b = by_group["b"]["match"]  # the clip's [0, 3) is a false scene on a labelled not-kiss clip
    assert (b.n_truth, b.matched, b.false_scenes) == (0, 0, 1) and by_group["b"]["negative_s"] == 6
    figures = quality.scene_figures(units)
    assert figures["recall"] == 1.0 and figures["precision"] == 0.5
    assert figures["false_scenes_per_10_min"] == pytest.approx(600 / 12)
    # the model's own cut (None): the clip's 0.95 cut finds nothing there
    units = quality.scene_units(items, files, cut=None, min_frames=3, threshold=0.7)
    assert quality.scene_figures(units)["false_scenes"] == 0
    # the shortest scene is the rule: 5 seconds finds neither the kiss nor anything else
    assert quality.scene_figures(quality.scene_units(items, files, cut=0.5, min_frames=5, threshold=0.7))[
        "n_detected"] == 0


def test_options_and_steps_are_named_like_train_from_items_keywords():
    assert quality.parse_options(["looks=[]", "l2=0.1", "recipe=paper", "cut-floor=0"]) == {
        "looks": [], "l2": 0.1, "recipe": "paper", "cut_floor": 0,
    }
    assert quality.parse_step("no looks: looks=[] smooth_s=1") == ("no looks", {"looks": [], "smooth_s": 1})
    assert quality.parse_step("audio=true") == ("audio=true", {"audio": True})
    with pytest.raises(SystemExit, match="unknown option 'lokos'.*looks"):
        quality.parse_options(["lokos=[]"])
    with pytest.raises(SystemExit, match="KEY=VALUE"):
        quality.parse_options(["looks"])
    assert "looks" in quality.option_names() and "cache_dir" not in quality.option_names()


def test_ablation_adds_one_step_at_a_time_and_the_learning_curve_counts_sources(grouped_spans, tmp_path, capsys):
    out = tmp_path / "out"
    code = quality.main([
        "--spans", str(grouped_spans), "--out", str(out), "--name", "abl", "--cache-dir", str(tmp_path / "cache"),
        "--option", "looks=[]", "--resamples", "50", "--seed", "7",
        "--step", "paper: recipe=paper", "--step", "epochs=3",
        "--learning-curve", "--curve-sizes", "2,all", "--curve-repeats", "2",
    ])
    assert code == 0
    result = json.loads((out / "abl.json").read_text())
    steps = result["ablation"]
    assert [step["name"] for step in steps] == ["base", "paper", "epochs=3"]
    assert [step["options"] for step in steps] == [
        {"looks": []}, {"looks": [], "recipe": "paper"}, {"looks": [], "recipe": "paper", "epochs": 3},
    ]
    assert steps[0]["figures"]["per_second"]["interval"]["f1"]["seed"] == 7
    table = (out / "abl-ablation.md").read_text()
    assert table.count("\n| ") == 4 and "`looks=[] recipe=\"paper\" epochs=3`" in table
    curve = result["learning_curve"]
    assert [point["sources"] for point in curve] == [2, 3]
    assert len(curve[0]["runs"]) == 2 and len(curve[1]["runs"]) == 1  # all other sources: one draw only
    # trained on all other sources, the curve's point is the base run itself
    assert curve[1]["f1_mean"] == pytest.approx(steps[0]["figures"]["per_second"]["f1"])
    printed = capsys.readouterr().out
    assert "learning curve" in printed and "| paper |" in printed
