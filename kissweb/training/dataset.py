"""The training data of a scene type: its annotated spans, cut into the 1-second windows of the stored embeddings.

Window k covers [k, k+1); it belongs to a span when its middle (k + 0.5) lies inside the span. Unannotated
seconds are never used. A second that people labelled both positive and negative is left out as ambiguous.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from django.db.models import Q, QuerySet

from kissweb import errors
from kissweb.analysis.models import MovieEmbedding
from kissweb.library.models import Annotation, AnnotationLabel, SceneType

MIN_SPANS_PER_LABEL = 2


@dataclass(frozen=True)
class LabelledSpan:
    annotation_id: int
    movie_id: int
    start_s: float
    end_s: float
    label: int  # 1 positive, 0 negative


@dataclass
class TrainingSet:
    backbone_set: str
    features: np.ndarray  # (N, D) float32
    labels: np.ndarray  # (N,) int64
    groups: np.ndarray  # (N,) int64: the annotation (span) id of each second
    spans: list[LabelledSpan]  # the spans that gave at least one second
    skipped: list[str] = field(default_factory=list)  # why some spans were not used, in words

    @property
    def n_movies(self) -> int:
        return len({span.movie_id for span in self.spans})


class NotEnoughAnnotations(errors.Unprocessable):
    """Too few labelled spans to train and measure a model; the message says how many more are needed (422)."""

    default_code = "not_enough_labels"


def trainable_embeddings() -> QuerySet[MovieEmbedding]:
    """Stored embeddings a new head can be trained on: those of the standard sets (paper, offline) at their fixed
    weights. A published model's embeddings come from its own backbones, which a trained head would not carry."""
    from kissweb.analysis.backbones import STANDARD_SETS, standard_digest

    standard = Q()
    for backbone_set in STANDARD_SETS:
        standard |= Q(backbone_set=backbone_set, backbone_digest=standard_digest(backbone_set))
    return MovieEmbedding.objects.filter(standard)


def annotation_span_counts(*, scene_type: SceneType, embedded_only: bool = False) -> dict[str, int]:
    """Labelled spans per label; embedded_only: only those on movies with stored embeddings (usable for training)."""
    spans = Annotation.objects.filter(scene_type=scene_type)
    if embedded_only:
        spans = spans.filter(movie_id__in=trainable_embeddings().values("movie_id"))
    counts = Counter(spans.values_list("label", flat=True))
    return {"positive": counts.get(AnnotationLabel.POSITIVE, 0), "negative": counts.get(AnnotationLabel.NEGATIVE, 0)}


def spans_needed(*, positive: int, negative: int) -> dict[str, int]:
    return {
        "positive": max(0, MIN_SPANS_PER_LABEL - positive),
        "negative": max(0, MIN_SPANS_PER_LABEL - negative),
    }


def not_enough_message(*, scene_type: SceneType, positive: int, negative: int, what: str = "labelled") -> str | None:
    """None when there are enough spans, else a sentence saying how many more of each label are needed."""
    needed = spans_needed(positive=positive, negative=negative)
    if not any(needed.values()):
        return None
    more = " and ".join(
        f"{n} more {label} span{'s' if n != 1 else ''}" for label, n in needed.items() if n
    )
    return (
        f"Training {scene_type.name} needs at least {MIN_SPANS_PER_LABEL} positive and {MIN_SPANS_PER_LABEL} "
        f"negative spans; it has {positive} positive and {negative} negative {what} span(s). "
        f"Label {more} in the player's annotation mode, then train again."
    )


def features_load(embedding: MovieEmbedding) -> np.ndarray:
    """The (n_windows, image_dim + audio_dim) float32 matrix of one stored embedding."""
    from kissweb.analysis.selectors import embedding_features

    return embedding_features(embedding=embedding)


def _backbone_choice(spans_by_movie: dict[int, list[LabelledSpan]], sets_by_movie: dict[int, set[str]]) -> str | None:
    """The backbone set whose embeddings cover the most spans; on a tie, the one new analyses use."""
    import detector

    coverage: Counter[str] = Counter()
    for movie_id, spans in spans_by_movie.items():
        for backbone_set in sets_by_movie.get(movie_id, ()):
            coverage[backbone_set] += len(spans)
    if not coverage:
        return None
    best = max(coverage.values())
    tied = [s for s, n in coverage.items() if n == best]
    if len(tied) == 1:
        return tied[0]
    preferred = detector.resolve_backbone_set("auto")
    return max(coverage, key=lambda s: (coverage[s], s == preferred))


def _movie_windows(spans: list[LabelledSpan], n_windows: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-window label (-1 none, 0, 1) and span id; seconds labelled both ways become -1."""
    labels = np.full(n_windows, -1, dtype=np.int64)
    groups = np.full(n_windows, -1, dtype=np.int64)
    middles = np.arange(n_windows) + 0.5
    conflict = np.zeros(n_windows, dtype=bool)
    # Each span touches only its own windows (a slice found by bisection), not the whole film: thousands of spans on
    # a long film took minutes when every span compared every window.
    starts = np.searchsorted(middles, [span.start_s for span in spans], side="left")
    ends = np.searchsorted(middles, [span.end_s for span in spans], side="left")
    for span, lo, hi in zip(spans, starts.tolist(), ends.tolist()):
        if hi <= lo:
            continue
        window = labels[lo:hi]
        conflict[lo:hi] |= (window >= 0) & (window != span.label)
        fresh = window < 0
        window[fresh] = span.label
        groups[lo:hi][fresh] = span.annotation_id
    labels[conflict] = -1
    groups[conflict] = -1
    return labels, groups


def training_set_gather(*, scene_type: SceneType, progress: Callable[[int, int], None] | None = None) -> TrainingSet:
    """Every annotated second of the scene type with its stored embedding, its label and its span id.

    Raises NotEnoughAnnotations when fewer than 2 positive or 2 negative spans are labelled, or usable.
    `progress(movies done, movies)` is called as each movie's seconds are gathered.
    """
    counts = annotation_span_counts(scene_type=scene_type)
    message = not_enough_message(scene_type=scene_type, **counts)
    if message:
        raise NotEnoughAnnotations(message)

    spans_by_movie: dict[int, list[LabelledSpan]] = defaultdict(list)
    rows = Annotation.objects.filter(scene_type=scene_type).order_by("movie_id", "start_s", "id")
    for a in rows.values("id", "movie_id", "start_s", "end_s", "label"):
        label = 1 if a["label"] == AnnotationLabel.POSITIVE else 0
        spans_by_movie[a["movie_id"]].append(LabelledSpan(a["id"], a["movie_id"], a["start_s"], a["end_s"], label))

    embeddings = trainable_embeddings().filter(movie_id__in=spans_by_movie.keys())
    sets_by_movie: dict[int, set[str]] = defaultdict(set)
    for movie_id, backbone_set in embeddings.values_list("movie_id", "backbone_set"):
        sets_by_movie[movie_id].add(backbone_set)
    backbone_set = _backbone_choice(spans_by_movie, sets_by_movie)
    if backbone_set is None:
        raise NotEnoughAnnotations(
            f"None of the {len(spans_by_movie)} annotated movie(s) has stored per-second embeddings yet; "
            "wait until their analysis is finished (or re-analyse them), then train again."
        )

    skipped: list[str] = []
    used: dict[int, LabelledSpan] = {}
    parts_x, parts_y, parts_g = [], [], []
    by_movie = {e.movie_id: e for e in embeddings.filter(backbone_set=backbone_set)}
    for done, (movie_id, spans) in enumerate(spans_by_movie.items()):
        if progress is not None:
            progress(done, len(spans_by_movie))
        embedding = by_movie.get(movie_id)
        if embedding is None:
            skipped.append(f"movie {movie_id}: {len(spans)} span(s) skipped, no '{backbone_set}' embeddings stored")
            continue
        labels, groups = _movie_windows(spans, embedding.n_windows)
        keep = np.flatnonzero(labels >= 0)
        present = set(groups[keep].tolist())
        empty = [s for s in spans if s.annotation_id not in present]
        if empty:
            skipped.append(
                f"movie {movie_id}: {len(empty)} span(s) skipped, no whole second of them is usable "
                "(shorter than a second, past the end of the movie, or labelled both ways)"
            )
        if keep.size == 0:
            continue
        features = features_load(embedding)
        parts_x.append(np.asarray(features[keep], dtype=np.float32))
        parts_y.append(labels[keep])
        parts_g.append(groups[keep])
        for span in spans:
            if span not in empty:
                used[span.annotation_id] = span

    usable = Counter(span.label for span in used.values())
    message = not_enough_message(
        scene_type=scene_type, positive=usable[1], negative=usable[0], what=f"usable ('{backbone_set}' embeddings)"
    )
    if message:
        raise NotEnoughAnnotations(message + (" " + "; ".join(skipped) + "." if skipped else ""))
    return TrainingSet(
        backbone_set=backbone_set,
        features=np.concatenate(parts_x),
        labels=np.concatenate(parts_y),
        groups=np.concatenate(parts_g),
        spans=list(used.values()),
        skipped=skipped,
    )


def spans_split(spans: list[LabelledSpan], *, heldout_fraction: float = 0.2, seed: int = 0) -> tuple[set[int], set[int]]:
    """Annotation ids for training and held out, split by span and per label, at least one of each on each side."""
    rng = np.random.default_rng(seed)
    train_ids: set[int] = set()
    heldout_ids: set[int] = set()
    for label in (0, 1):
        ids = sorted(s.annotation_id for s in spans if s.label == label)
        rng.shuffle(ids)
        n_held = min(len(ids) - 1, max(1, round(heldout_fraction * len(ids))))
        heldout_ids.update(ids[:n_held])
        train_ids.update(ids[n_held:])
    return train_ids, heldout_ids
