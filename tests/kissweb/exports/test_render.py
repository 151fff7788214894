"""The moviepy renders on generated films: exact cuts, one size and rate for mixed sources, crossfades, title cards,
contact sheets, and nothing left behind when a render is cancelled, the source is damaged or the disk is full."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kissweb.exports import render, sheet, streamcopy
from tests.kissweb.exports.media import colour_film, colour_of, frames, stream_facts


@pytest.fixture(scope="module")
def films(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("films")
    return {
        # Colour changes between keyframes (one keyframe at 0 s): a cut that rounds to a keyframe shows it.
        "rgb": colour_film(folder / "rgb.mp4", [("red", 3.2), ("green", 4.0), ("blue", 2.8)]),
        "wide": colour_film(folder / "wide.mp4", [("yellow", 3), ("white", 3)], size="640x360", fps=30),
        "small": colour_film(folder / "small.mp4", [("blue", 4)], size="160x120", fps=15, audio=False),
    }


def leftovers(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.exists())


def test_clip_is_cut_exactly_between_keyframes_and_is_h264_aac(films, tmp_path):
    out = tmp_path / "out" / "clip.mp4"
    seen = []
    render.render_clip(source=films["rgb"], start_s=3.2, end_s=7.2, size=(320, 240), fps=25, has_audio=True,
                       output=out, progress=seen.append)
    facts = stream_facts(out)
    assert facts["video_codec"] == "h264" and facts["audio_codec"] == "aac" and facts["pix_fmt"] == "yuv420p"
    assert (facts["width"], facts["height"]) == (320, 240)
    decoded = frames(out)
    assert len(decoded) == 4 * 25
    assert colour_of(decoded[0][1]) == "green" and colour_of(decoded[-1][1]) == "green"
    assert all(colour_of(frame) == "green" for _, frame in decoded)
    assert seen and seen == sorted(seen) and seen[-1] == pytest.approx(1.0)
    assert leftovers(tmp_path / "out") == [out]


def test_clip_reaches_its_scene_by_seeking(films, tmp_path, monkeypatch):
    """Every ffmpeg that reads the film past its first frame was started with -ss near the scene."""
    started: list[list[str]] = []
    real_popen = subprocess.Popen

    def popen(cmd, *args, **kwargs):
        if isinstance(cmd, list) and str(films["rgb"]) in cmd:
            started.append([str(part) for part in cmd])
        return real_popen(cmd, *args, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", popen)
    render.render_clip(source=films["rgb"], start_s=7.5, end_s=9.0, size=(320, 240), fps=25, has_audio=True,
                       output=tmp_path / "late.mp4")
    readers = [cmd for cmd in started if "-" in cmd or "pipe:1" in cmd or cmd[-1] == "-"]
    seeks = [float(cmd[cmd.index("-ss") + 1]) for cmd in readers if "-ss" in cmd and cmd.index("-ss") < cmd.index("-i")]
    assert seeks and all(6.0 <= s <= 7.5 for s in seeks), started
    # moviepy opens each reader once at 0 s (one frame / one audio buffer) before the first seek; nothing more.
    assert len([cmd for cmd in readers if "-ss" not in cmd]) <= 2, started
    assert colour_of(frames(tmp_path / "late.mp4")[0][1]) == "blue"


def test_supercut_scales_mixed_sizes_and_rates_to_one_and_keeps_order(films, tmp_path):
    cuts = [
        render.Cut(films["rgb"], 0.5, 2.5, True),     # red, 320x240 (4:3) at 25 fps
        render.Cut(films["small"], 1.0, 3.0, False),  # blue, 160x120 at 15 fps, no sound
        render.Cut(films["wide"], 3.5, 5.5, True),    # white, 640x360 at 30 fps
    ]
    sizes = [(320, 240), (160, 120), (640, 360)]
    size = render.output_size(sizes, max_height=720)
    fps = render.output_fps([25, 15, 30], max_fps=30)
    assert size == (640, 360) and fps == 30
    out = tmp_path / "supercut.mp4"
    render.render_supercut(cuts=cuts, source_sizes=sizes, size=size, fps=fps, output=out, crossfade_s=0.5)
    facts = stream_facts(out)
    assert (facts["width"], facts["height"]) == (640, 360) and facts["fps"] == pytest.approx(30, abs=0.01)
    assert facts["audio_codec"] == "aac"
    assert facts["duration_s"] == pytest.approx(6.0 - 2 * 0.5, abs=0.15)
    decoded = frames(out)
    at = lambda t: min(decoded, key=lambda tf: abs(tf[0] - t))[1]  # noqa: E731
    assert [colour_of(at(t)[:, 200:440]) for t in (0.8, 2.5, 4.5)] == ["red", "blue", "white"]
    # The 4:3 scenes are letterboxed into 16:9: black bars at the sides, picture in the middle.
    assert colour_of(at(0.8)[:, :60]) == "black" and colour_of(at(0.8)[:, 600:]) == "black"
    # Halfway through the first crossfade, the picture is a blend of red and blue (the only purple in the film).
    middle = at(1.75)[180, 320].astype(int)
    assert middle[0] > 60 and middle[2] > 60 and middle[1] < 40


def test_supercut_title_cards_come_before_each_scene(films, tmp_path):
    cuts = [render.Cut(films["rgb"], 4.0, 6.0, True, card=("Casablanca", "0:04 - 0:06")),
            render.Cut(films["wide"], 0.5, 2.5, True, card=("Vertigo", "0:00 - 0:02"))]
    out = tmp_path / "cards.mp4"
    render.render_supercut(cuts=cuts, source_sizes=[(320, 240), (640, 360)], size=(640, 360), fps=25, output=out,
                           crossfade_s=0.25, card_s=1.0)
    decoded = frames(out)
    at = lambda t: min(decoded, key=lambda tf: abs(tf[0] - t))[1]  # noqa: E731
    card = at(0.4)
    assert colour_of(card) == "black" and (card.max(axis=2) > 200).sum() > 200  # white words on black
    assert colour_of(at(2.0)[:, 200:440]) == "green"
    # card 0-1 s, scene 0.75-2.75 s, card 2.5-3.5 s, scene 3.25-5.25 s (each overlapping the last by 0.25 s)
    assert colour_of(at(3.0)) == "black"
    assert colour_of(at(4.5)) == "yellow"
    assert stream_facts(out)["duration_s"] == pytest.approx(6.0 - 3 * 0.25, abs=0.15)


def test_contact_sheet_has_one_row_per_scene_with_its_frames(films, tmp_path):
    rows = [sheet.SheetRow(films["rgb"], 0.2, 3.0, ("Casablanca", "0:00 - 0:03", "91% sure")),
            sheet.SheetRow(films["rgb"], 7.2, 9.9, ("Casablanca", "0:07 - 0:09", "55% sure")),
            sheet.SheetRow(films["wide"], 0.0, 3.0, ("Vertigo", "0:00 - 0:03", "manual"))]
    out = tmp_path / "sheet.png"
    sheet.render_contact_sheet(rows=rows, output=out, frames_per_row=4, thumb_width=160, label_width=200)
    image = np.asarray(Image.open(out).convert("RGB"))
    thumb_h = render.even(160 * 9 / 16)
    row_h = thumb_h + 16
    assert image.shape[:2] == (3 * row_h, 200 + 4 * (160 + 8) + 8)
    for r, expected in enumerate(["red", "blue", "yellow"]):
        for i in range(4):
            left = 200 + i * 168
            cell = image[r * row_h + 8 + thumb_h // 2 - 10: r * row_h + 8 + thumb_h // 2 + 10, left + 70: left + 90]
            assert colour_of(cell) == expected, (r, i)
        label = image[r * row_h: (r + 1) * row_h, :200]
        assert (label.max(axis=2) > 150).sum() > 100  # the words are drawn


def test_cancelled_render_leaves_nothing(films, tmp_path):
    def cancel_midway(fraction):
        if fraction > 0.4:
            raise render.Cancelled

    with pytest.raises(render.Cancelled):
        render.render_clip(source=films["rgb"], start_s=0, end_s=9, size=(320, 240), fps=25, has_audio=True,
                           output=tmp_path / "x" / "clip.mp4", progress=cancel_midway)
    assert leftovers(tmp_path / "x") == []


def test_damaged_source_fails_clearly_and_leaves_nothing(films, tmp_path):
    broken = tmp_path / "broken.mp4"
    data = films["rgb"].read_bytes()
    broken.write_bytes(data[: len(data) // 2])  # moov first (faststart): the second half of the frames is gone
    with pytest.raises(render.SourceUnreadable):
        render.render_clip(source=broken, start_s=1, end_s=9, size=(320, 240), fps=25, has_audio=True,
                           output=tmp_path / "out" / "clip.mp4")
    assert leftovers(tmp_path / "out") == []
    with pytest.raises(render.SourceUnreadable):
        sheet.render_contact_sheet(rows=[sheet.SheetRow(tmp_path / "missing.mp4", 0, 3, ("x",))],
                                    output=tmp_path / "out" / "sheet.png")
    assert leftovers(tmp_path / "out") == []


@pytest.fixture
def full_disk(monkeypatch):
    """The render's partial file is /dev/full: every write to it fails with ENOSPC, as on a full disk."""
    real_mkdtemp = render.tempfile.mkdtemp

    def mkdtemp(*args, **kwargs):
        work = real_mkdtemp(*args, **kwargs)
        for suffix in (".mp4", ".png"):
            os.symlink("/dev/full", os.path.join(work, f"partial{suffix}"))
        return work

    if not Path("/dev/full").exists():
        pytest.skip("/dev/full is missing")
    monkeypatch.setattr(render.tempfile, "mkdtemp", mkdtemp)


def test_disk_full_during_a_clip_or_a_sheet_leaves_nothing(films, tmp_path, full_disk):
    with pytest.raises(render.DiskFull, match="disk filled up"):
        render.render_clip(source=films["rgb"], start_s=0, end_s=3, size=(320, 240), fps=25, has_audio=True,
                           output=tmp_path / "out" / "clip.mp4")
    with pytest.raises(render.DiskFull):
        sheet.render_contact_sheet(rows=[sheet.SheetRow(films["rgb"], 0, 3, ("x",))],
                                    output=tmp_path / "out" / "s.png")
    assert leftovers(tmp_path / "out") == []


def test_sizes_and_rates():
    assert render.fit_size((320, 240), (640, 360)) == (480, 360)
    assert render.fit_size((1920, 800), (1280, 720)) == (1280, 534)
    assert render.output_size([(1920, 1080), (640, 360)], max_height=720) == (1280, 720)
    assert render.output_size([(855, 481)], max_height=720) == (856, 482)
    assert render.output_fps([23.976, 29.97, None], max_fps=30) == pytest.approx(29.97)
    assert render.output_fps([60, 50], max_fps=30) == 30
    assert sheet.sheet_times(10, 20, 4) == [11.25, 13.75, 16.25, 18.75]


def test_a_cut_on_keyframes_is_copied_without_re_encoding(tmp_path, monkeypatch):
    film = colour_film(tmp_path / "gop1s.mp4", [("red", 2.0), ("green", 3.0), ("blue", 2.0)], gop=25)
    assert streamcopy.stream_copy_possible(film, 2.0, 5.0, duration_s=7.0)
    assert streamcopy.stream_copy_possible(film, 5.0, 7.0, duration_s=7.0)  # up to the film's end
    assert not streamcopy.stream_copy_possible(film, 2.2, 5.0, duration_s=7.0)
    assert not streamcopy.stream_copy_possible(film, 2.0, 4.5, duration_s=7.0)
    assert not streamcopy.stream_copy_possible(tmp_path / "missing.mp4", 0, 1, duration_s=1)
    out = tmp_path / "out" / "copy.mp4"
    streamcopy.copy_clip(source=film, start_s=2.0, end_s=5.0, output=out)
    decoded = frames(out)
    assert len(decoded) == 75 and {colour_of(f) for _, f in decoded} == {"green"}
    facts = stream_facts(out)
    assert facts["video_codec"] == "h264" and facts["audio_codec"] == "aac"
    assert leftovers(tmp_path / "out") == [out]


MISSING = "\U000f0000"  # a private-use code point no font has: drawn as the font's .notdef box


def ink(image: np.ndarray) -> np.ndarray:
    """The bright pixels of a picture of light words on a dark ground."""
    return image.max(axis=2) > 128


def test_title_cards_draw_the_en_dash_not_a_box():
    dash = render.title_card(["Casablanca", "0:00 – 0:03"], size=(640, 360))
    box = render.title_card(["Casablanca", f"0:00 {MISSING} 0:03"], size=(640, 360))
    assert not np.array_equal(ink(dash), ink(box))

    def glyph(char: str) -> tuple[int, int]:  # (height, width) of the ink of one character on the second line
        line = ink(render.title_card(["Casablanca", char], size=(640, 360)))[190:]
        rows, cols = np.nonzero(line)
        return rows.max() - rows.min() + 1, cols.max() - cols.min() + 1

    (dash_h, dash_w), (hyphen_h, hyphen_w), (box_h, box_w) = glyph("–"), glyph("-"), glyph(MISSING)
    assert dash_h <= hyphen_h < box_h / 3 and dash_w > hyphen_w  # a flat bar longer than a hyphen, not a box


def test_contact_sheets_draw_the_en_dash_not_a_box(films, tmp_path):
    drawn = {}
    for name, text in (("dash", "0:00 – 0:03"), ("box", f"0:00 {MISSING} 0:03")):
        out = tmp_path / f"{name}.png"
        sheet.render_contact_sheet(rows=[sheet.SheetRow(films["rgb"], 0.2, 3.0, ("Casablanca", text))], output=out,
                                   frames_per_row=1, thumb_width=160, label_width=200)
        drawn[name] = ink(np.asarray(Image.open(out).convert("RGB"))[:, :200])
    assert not np.array_equal(drawn["dash"], drawn["box"])


def test_the_export_font_has_every_glyph_exports_draw():
    from fontTools.ttLib import TTFont

    from kissweb.exports.fonts import font_path

    for bold in (False, True):
        cmap = TTFont(font_path(bold=bold)).getBestCmap()
        assert all(ord(c) in cmap for c in "–…·% 0123456789:()ÄÉéèñøßçœ"), bold
        assert ord(MISSING) not in cmap
