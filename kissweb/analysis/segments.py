"""Detected segments: replace a movie's detected segments of one scene type and say what changed.

Manual segments (source=manual) are never selected here, so nothing in the pipeline can touch them. People's reviews
(a confirmed or rejected detected segment) follow the scene to its new row: to the segment with the same bounds, else
to the one it moved to; a scene that disappeared leaves its review as a plain annotation.
"""

from __future__ import annotations

from collections.abc import Sequence

from kissweb.analysis.models import Analysis, ModelVersion
from kissweb.library.models import Annotation, Movie, SceneType, Segment, SegmentSource

_SAME_S = 1e-6


def _overlaps(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _same(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return abs(a[0] - b[0]) < _SAME_S and abs(a[1] - b[1]) < _SAME_S


def segment_changes(*, old: Sequence[tuple[float, float]], new: Sequence[tuple[float, float]]) -> dict:
    """{"added": [[s, e]], "removed": [[s, e]], "moved": [{"from": [s, e], "to": [s, e]}], "unchanged": n}.

    Identical bounds are unchanged; an old and a new segment that overlap with different bounds are one move
    (paired in time order, each used once); what is left is added or removed.
    """
    old_left = sorted(old)
    new_left = sorted(new)
    unchanged = 0
    for segment in list(old_left):
        match = next((n for n in new_left if _same(segment, n)), None)
        if match is not None:
            old_left.remove(segment)
            new_left.remove(match)
            unchanged += 1
    moved = []
    for segment in list(old_left):
        match = next((n for n in new_left if _overlaps(segment, n)), None)
        if match is not None:
            old_left.remove(segment)
            new_left.remove(match)
            moved.append({"from": [segment[0], segment[1]], "to": [match[0], match[1]]})
    return {
        "added": [[s, e] for s, e in new_left],
        "removed": [[s, e] for s, e in old_left],
        "moved": moved,
        "unchanged": unchanged,
    }


def detected_segments_replace(
    *,
    movie: Movie,
    scene_type: SceneType,
    analysis: Analysis,
    model_version: ModelVersion,
    found: Sequence,
) -> dict:
    """Swap the movie's detected segments of this scene type for `found` (detector Segments); returns the changes.

    The caller holds the movie row's lock inside a transaction. Ends are clipped to the movie's duration (the last
    window may run past a movie that is not a whole number of seconds long).
    """
    current = Segment.objects.filter(movie=movie, scene_type=scene_type, source=SegmentSource.DETECTED)
    old_rows = list(current.values_list("pk", "start_s", "end_s"))
    old = [(float(s), float(e)) for _, s, e in old_rows]
    reviews: dict[int, list[int]] = {}
    for annotation_id, segment_id in Annotation.objects.filter(segment__in=current).values_list("pk", "segment_id"):
        reviews.setdefault(segment_id, []).append(annotation_id)
    current.delete()
    rows = []
    for segment in found:
        start = round(float(segment.start_s), 6)
        end = round(min(float(segment.end_s), float(movie.duration_s)), 6)
        if start >= end:
            continue
        rows.append(
            Segment(
                movie=movie,
                scene_type=scene_type,
                start_s=start,
                end_s=end,
                confidence=min(max(float(segment.confidence), 0.0), 1.0),
                source=SegmentSource.DETECTED,
                analysis=analysis,
                model_version=model_version,
            )
        )
    Segment.objects.bulk_create(rows)
    _reviews_follow(reviews, old_rows=old_rows, new_rows=rows)
    return segment_changes(old=old, new=[(r.start_s, r.end_s) for r in rows])


def _reviews_follow(reviews: dict[int, list[int]], *, old_rows: list[tuple], new_rows: list[Segment]) -> None:
    """Point the reviews of replaced segments at the new segment of the same scene (same bounds, else overlapping)."""
    for segment_id, start_s, end_s in old_rows:
        if segment_id not in reviews:
            continue
        bounds = (float(start_s), float(end_s))
        match = next((r for r in new_rows if _same(bounds, (r.start_s, r.end_s))), None)
        match = match or next((r for r in new_rows if _overlaps(bounds, (r.start_s, r.end_s))), None)
        if match is not None:
            Annotation.objects.filter(pk__in=reviews[segment_id]).update(
                segment=match, model_version=match.model_version
            )
