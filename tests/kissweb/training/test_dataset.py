"""Which seconds a span gives, and when there is too little to train on."""

from __future__ import annotations

import numpy as np
import pytest

from kissweb.training.dataset import LabelledSpan, NotEnoughAnnotations, spans_split, training_set_gather
from tests.kissweb.training.conftest import annotate, movie_make, movie_with_scenes

pytestmark = pytest.mark.django_db


def test_a_span_gives_the_windows_whose_middle_it_covers_and_ambiguous_seconds_are_dropped(user, kissing):
    movie = movie_with_scenes(user, kinds=[0] * 30, seed=0)
    other = movie_with_scenes(user, kinds=[0] * 30, seed=1)
    pos = annotate(movie, kissing, 2.4, 6.6, "positive", user)  # windows 2..5 (middles 2.5..5.5); 6.5 is in too
    neg = annotate(movie, kissing, 6.0, 9.0, "negative", user)  # windows 6, 7, 8; window 6 is labelled both ways
    annotate(other, kissing, 0, 3, "positive", user)
    annotate(other, kissing, 25, 30, "negative", user)  # windows 25..29
    data = training_set_gather(scene_type=kissing)
    by_group = {g: sorted(np.flatnonzero(data.groups == g).tolist()) for g in np.unique(data.groups)}
    assert len(by_group[pos.pk]) == 4 and len(by_group[neg.pk]) == 2
    assert data.labels[data.groups == pos.pk].tolist() == [1, 1, 1, 1]
    assert data.labels.size == 4 + 2 + 3 + 5
    assert data.features.shape == (14, 1408) and data.features.dtype == np.float32
    assert data.n_movies == 2


def test_movies_without_embeddings_are_named_in_the_refusal(user, kissing):
    movie = movie_make(user, duration_s=60)
    for i in range(2):
        annotate(movie, kissing, i * 10, i * 10 + 5, "positive", user)
        annotate(movie, kissing, 30 + i * 10, 30 + i * 10 + 5, "negative", user)
    with pytest.raises(NotEnoughAnnotations, match="has stored per-second embeddings yet"):
        training_set_gather(scene_type=kissing)


def test_spans_that_give_no_second_do_not_count(user, kissing):
    movie = movie_with_scenes(user, kinds=[0] * 20, seed=0)
    annotate(movie, kissing, 0, 5, "positive", user)
    annotate(movie, kissing, 15.6, 16.4, "positive", user)  # covers no window's middle
    annotate(movie, kissing, 5, 10, "negative", user)
    annotate(movie, kissing, 10, 15, "negative", user)
    with pytest.raises(NotEnoughAnnotations) as err:
        training_set_gather(scene_type=kissing)
    assert "1 more positive span" in str(err.value) and "shorter than a second" in str(err.value)


def test_the_split_is_by_span_with_both_labels_on_each_side():
    spans = [LabelledSpan(i, 1, 0, 1, int(i < 10)) for i in range(30)]
    train, heldout = spans_split(spans, seed=3)
    assert train.isdisjoint(heldout) and train | heldout == set(range(30))
    assert len(heldout) == 2 + 4
    for side in (train, heldout):
        assert {int(i < 10) for i in side} == {0, 1}
    assert spans_split(spans, seed=3) == (train, heldout)


def test_gathering_reports_progress_movie_by_movie(user, kissing):
    for seed in range(3):
        movie = movie_with_scenes(user, kinds=[0] * 10 + [1] * 10, seed=seed)
        annotate(movie, kissing, 0, 10, "negative", user)
        annotate(movie, kissing, 10, 20, "positive", user)
    calls = []
    training_set_gather(scene_type=kissing, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(0, 3), (1, 3), (2, 3)]


def test_many_spans_on_a_long_film_are_gathered_span_by_span_not_window_by_window(user, kissing):
    """Issue 19 item 15: 100,000 labels showed 0% for 50 s, each span compared with every second of its film.
    The result must be the one the per-window rule gives (middles inside [start, end), both ways dropped)."""
    from kissweb.training.dataset import _movie_windows

    rng = np.random.default_rng(0)
    n_windows = 3 * 3600
    starts = rng.uniform(0, n_windows, 20_000)
    spans = [LabelledSpan(i, 1, float(s), float(s + rng.uniform(0.2, 4)), int(rng.integers(2)))
             for i, s in enumerate(starts)]
    spans.sort(key=lambda span: (span.start_s, span.annotation_id))
    labels, groups = _movie_windows(spans, n_windows)
    expected_labels = np.full(n_windows, -1)
    expected_groups = np.full(n_windows, -1)
    conflict = np.zeros(n_windows, dtype=bool)
    middles = np.arange(n_windows) + 0.5
    for span in spans[:2000]:  # the old rule, on a prefix of the spans (the whole would take minutes)
        inside = (middles >= span.start_s) & (middles < span.end_s)
        conflict |= inside & (expected_labels >= 0) & (expected_labels != span.label)
        fresh = inside & (expected_labels < 0)
        expected_labels[fresh] = span.label
        expected_groups[fresh] = span.annotation_id
    expected_labels[conflict] = -1
    expected_groups[conflict] = -1
    prefix_labels, prefix_groups = _movie_windows(spans[:2000], n_windows)
    assert (prefix_labels == expected_labels).all() and (prefix_groups == expected_groups).all()
    assert labels.shape == (n_windows,) and ((labels >= 0) == (groups >= 0)).all()
