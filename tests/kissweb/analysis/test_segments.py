from __future__ import annotations

from kissweb.analysis.segments import segment_changes


def test_identical_segments_are_unchanged():
    changes = segment_changes(old=[(10.0, 20.0)], new=[(10.0, 20.0)])
    assert changes == {"added": [], "removed": [], "moved": [], "unchanged": 1}


def test_overlapping_segments_with_new_bounds_are_moved_and_the_rest_added_or_removed():
    changes = segment_changes(old=[(10.0, 20.0), (40.0, 52.0)], new=[(12.0, 26.0), (70.0, 80.0)])
    assert changes["moved"] == [{"from": [10.0, 20.0], "to": [12.0, 26.0]}]
    assert changes["removed"] == [[40.0, 52.0]]
    assert changes["added"] == [[70.0, 80.0]]
    assert changes["unchanged"] == 0


def test_touching_segments_do_not_count_as_moves():
    changes = segment_changes(old=[(0.0, 10.0)], new=[(10.0, 20.0)])
    assert changes["moved"] == [] and changes["removed"] == [[0.0, 10.0]] and changes["added"] == [[10.0, 20.0]]


def test_one_old_segment_split_in_two_is_one_move_and_one_addition():
    changes = segment_changes(old=[(0.0, 30.0)], new=[(0.0, 12.0), (15.0, 30.0)])
    assert changes["moved"] == [{"from": [0.0, 30.0], "to": [0.0, 12.0]}]
    assert changes["added"] == [[15.0, 30.0]]
