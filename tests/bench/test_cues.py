"""bench/cues.py: the face feature block's maths, the labelled seconds and the leave-one-source-out loop."""

from __future__ import annotations

import numpy as np
import pytest

from bench import cues


def face(x, y, w, h, confidence=0.99, mouth=None):
    row = [x, y, w, h, confidence]
    if mouth is not None:  # MTCNN order: left eye, right eye, nose, mouth left, mouth right
        mx, my = mouth
        row += [x + 0.3 * w, y + 0.4 * h, x + 0.7 * w, y + 0.4 * h, x + 0.5 * w, y + 0.6 * h, mx - 5, my, mx + 5, my]
    return row


def test_no_face_gives_zeros():
    assert np.array_equal(cues.face_block([], 100, 200), np.zeros(10))


def test_one_face_counts_and_area_share():
    block = cues.face_block([face(0, 0, 50, 40, confidence=0.8)], 100, 200)
    assert block[:3].tolist() == [0.25, 1.0, 0.0]
    assert block[3] == pytest.approx(np.sqrt(50 * 40 / (100 * 200)))
    assert block[4] == pytest.approx(0.8)
    assert np.all(block[6:] == 0)  # no pair


def test_faces_below_the_confidence_floor_are_ignored():
    block = cues.face_block([face(0, 0, 50, 40, confidence=0.3), face(100, 0, 50, 40, confidence=0.49)], 100, 200)
    assert np.array_equal(block, np.zeros(10))


def test_two_faces_meeting_score_closer_than_two_faces_apart():
    meeting = cues.face_block([face(50, 20, 40, 40), face(80, 20, 40, 40)], 200, 400)
    apart = cues.face_block([face(0, 20, 40, 40), face(300, 20, 40, 40)], 200, 400)
    assert meeting[2] == apart[2] == 1.0
    assert meeting[6] == pytest.approx(np.exp(-30 / 40))  # centres 30 px apart, faces 40 px
    assert apart[6] == pytest.approx(np.exp(-300 / 40))
    assert meeting[7] == pytest.approx(10 * 40 / (2 * 1600 - 10 * 40))  # IoU of the overlapping boxes
    assert apart[7] == 0.0
    assert meeting[8] == apart[8] == 1.0  # equal sizes


def test_the_closest_pair_is_used_and_mouths_measured_with_landmarks():
    faces = [face(0, 0, 40, 40, mouth=(30, 30)), face(36, 0, 40, 40, mouth=(44, 30)), face(300, 0, 40, 40)]
    block = cues.face_block(faces, 200, 400)
    assert block[0] == 0.75
    assert block[6] == pytest.approx(np.exp(-36 / 40))
    assert block[9] == pytest.approx(np.exp(-14 / 40))  # mouth centres 14 px apart
    no_landmarks = cues.face_block([face(0, 0, 40, 40), face(36, 0, 40, 40)], 200, 400)
    assert no_landmarks[9] == 0.0


def test_second_labels_keep_whole_seconds_inside_spans():
    rows = [
        {"path": "a.mp4", "start_s": "0", "end_s": "2.5", "label": "0"},
        {"path": "a.mp4", "start_s": "3.0", "end_s": "5.9", "label": "1"},
        {"path": "b.mp4", "start_s": "0", "end_s": "9", "label": "1"},
    ]
    assert cues.second_labels(rows, "a.mp4", 7).tolist() == [0, 0, -1, 1, 1, -1, -1]


def test_rows_repeats_the_last_picture_for_a_missing_window():
    a = np.arange(6).reshape(3, 2)
    assert cues._rows(a, 4).tolist() == [[0, 1], [2, 3], [4, 5], [4, 5]]
    assert cues._rows(a, 2).tolist() == [[0, 1], [2, 3]]


def test_leave_one_source_out_finds_a_separable_cue_and_not_noise():
    rng = np.random.default_rng(0)
    xs, ys, gs = [], [], []
    for source in range(6):
        for label in (0, 1):
            n = 8
            x = rng.normal(size=(n, 5))
            x[:, 0] += 4.0 * label  # the cue
            xs.append(x)
            ys.append(np.full(n, label))
            gs.append(f"s{source}")
    found = cues.leave_one_source_out(xs, ys, gs)
    assert found["f1"] > 0.9 and found["average_precision"] > 0.95
    noise = cues.leave_one_source_out([x[:, 1:] for x in xs], ys, gs)
    assert noise["average_precision"] < 0.8
