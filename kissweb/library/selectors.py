"""Reads. Views and pages get their data here."""

from __future__ import annotations

from collections import defaultdict

from django.db import connection
from django.db.models import (
    F, FilteredRelation, FloatField, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum, Value,
)
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from kissweb.library.models import Annotation, ModelVersion, Movie, MovieSceneStats, SceneType, Segment


def health_read() -> dict:
    """Database reachability and the age of the newest task-worker heartbeat."""
    from django_q.status import Stat

    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
    except Exception:  # noqa: BLE001 - any failure means the database is not usable
        return {"status": "error", "database": "unreachable", "worker_heartbeat_age_s": None}
    stats = Stat.get_all()
    ages = [(timezone.now() - s.timestamp).total_seconds() for s in stats if getattr(s, "timestamp", None)]
    return {
        "status": "ok",
        "database": "ok",
        "workers": len(stats),
        "worker_heartbeat_age_s": round(min(ages), 1) if ages else None,
    }


# --- scene types ----------------------------------------------------------------------------------------


def scene_type_list() -> list[SceneType]:
    """Every scene type with `.active_model` (a ModelVersion or None), in two queries."""
    active = ModelVersion.objects.filter(is_active=True).only(
        "id", "name", "backbone_set", "created_at", "scene_type_id"
    )
    scene_types = list(
        SceneType.objects.prefetch_related(Prefetch("model_versions", queryset=active, to_attr="_active"))
    )
    for scene_type in scene_types:
        scene_type.active_model = scene_type._active[0] if scene_type._active else None
    return scene_types


def scene_type_get(*, slug: str) -> SceneType:
    return get_object_or_404(SceneType, slug=slug)


# The three small queries below run on every library and search request; as plain SQL they cost a tenth of
# the Python time the ORM spends building them (see bench/RESULTS-api.md).
SCENE_TYPES_SQL = f"""
    SELECT st.id, st.slug, st.name,
           EXISTS (SELECT 1 FROM {ModelVersion._meta.db_table} mv WHERE mv.scene_type_id = st.id AND mv.is_active)
      FROM {SceneType._meta.db_table} st ORDER BY st.slug
"""
TOTALS_SQL = f"""
    SELECT movie_id, scene_type_id, segment_count, scene_seconds
      FROM {MovieSceneStats._meta.db_table} WHERE movie_id = ANY(%s)
"""
SEARCH_COUNT_SQL = f"""
    SELECT COALESCE(sum(s.segment_count), 0) FROM {MovieSceneStats._meta.db_table} s
      JOIN {Movie._meta.db_table} m ON m.id = s.movie_id WHERE s.scene_type_id = %s"""
COUNT_WITH_MIN_SQL = f"""
    SELECT count(*) FROM {MovieSceneStats._meta.db_table} WHERE scene_type_id = %s AND segment_count >= %s
"""


def scene_types_with_model_flag() -> list[dict]:
    """[{id, slug, name, has_model}] for every scene type, one query."""
    with connection.cursor() as cur:
        cur.execute(SCENE_TYPES_SQL)
        return [{"id": i, "slug": slug, "name": name, "has_model": has} for i, slug, name, has in cur.fetchall()]


def scene_type_by_slug(slug: str, *, scene_types: list[dict], param: str = "scene_type") -> dict:
    for scene_type in scene_types:
        if scene_type["slug"] == slug:
            return scene_type
    known = ", ".join(sorted(s["slug"] for s in scene_types)) or "none yet"
    raise ValidationError({param: f"There is no scene type '{slug}'; known scene types: {known}."})


# --- movies ---------------------------------------------------------------------------------------------

MOVIE_FIELDS = (
    "id", "title", "year", "original_filename", "size_bytes", "duration_s", "width", "height", "fps", "has_audio",
    "status", "progress", "eta_s", "error", "created_at", "uploaded_by_id", "poster", "file",
)
MOVIE_ORDERINGS = {
    "-created_at": ("-created_at", "-id"),
    "created_at": ("created_at", "id"),
    "title": ("title", "id"),
    "-title": ("-title", "-id"),
    "-segment_count": ("-segment_count", "-created_at", "-id"),
    "segment_count": ("segment_count", "-created_at", "-id"),
    "-scene_seconds": ("-scene_seconds", "-created_at", "-id"),
    "scene_seconds": ("scene_seconds", "-created_at", "-id"),
}


def movie_get(*, movie_id: int) -> Movie:
    return get_object_or_404(Movie.objects.select_related("uploaded_by"), pk=movie_id)


def _totals_all_scene_types():
    stats = MovieSceneStats.objects.filter(movie=OuterRef("pk")).order_by().values("movie")
    return (
        Coalesce(Subquery(stats.annotate(n=Sum("segment_count")).values("n"), output_field=IntegerField()), Value(0)),
        Coalesce(Subquery(stats.annotate(s=Sum("scene_seconds")).values("s"), output_field=FloatField()), Value(0.0)),
    )


def movie_list(
    *,
    scene_types: list[dict],
    search: str = "",
    scene_type: str | None = None,
    min_segments: int | None = None,
    status: str | None = None,
    ordering: str = "-created_at",
) -> QuerySet:
    """Movies as dicts (`.values()`), filtered and ordered; segment totals only computed when asked for.

    `scene_type` alone means "has at least one scene of that type" (min_segments defaults to 1);
    min_segments=0 keeps every movie and only chooses which scene type the ordering counts.
    """
    ordering = ordering or "-created_at"
    if ordering not in MOVIE_ORDERINGS:
        raise ValidationError(
            {"ordering": f"Unknown ordering '{ordering}'; choose one of: {', '.join(MOVIE_ORDERINGS)}."}
        )
    queryset = Movie.objects.all()
    if search:
        queryset = queryset.filter(title__icontains=search)
    if status:
        queryset = queryset.filter(status=status)
    scene_type_id = scene_type_by_slug(scene_type, scene_types=scene_types)["id"] if scene_type else None
    if scene_type_id is not None and min_segments is None:
        min_segments = 1
    needs_totals = bool(min_segments) or "segment_count" in ordering or "scene_seconds" in ordering
    if needs_totals and scene_type_id is not None:
        # One LEFT JOIN on the trigger-kept totals (an INNER JOIN once min_segments filters on it).
        queryset = queryset.annotate(
            stats=FilteredRelation("scene_stats", condition=Q(scene_stats__scene_type_id=scene_type_id))
        ).annotate(
            segment_count=Coalesce(F("stats__segment_count"), Value(0)),
            scene_seconds=Coalesce(F("stats__scene_seconds"), Value(0.0)),
        )
    elif needs_totals:
        count, seconds = _totals_all_scene_types()
        queryset = queryset.annotate(segment_count=count, scene_seconds=seconds)
    if min_segments and scene_type_id is not None:
        queryset = queryset.filter(stats__segment_count__gte=min_segments)  # lets Postgres use an inner join
    elif min_segments:
        queryset = queryset.filter(segment_count__gte=min_segments)
    return queryset.annotate(uploaded_by_username=F("uploaded_by__username")).order_by(
        *MOVIE_ORDERINGS[ordering]
    ).values(*MOVIE_FIELDS, "uploaded_by_username")


def movie_scene_type_totals(*, movie_ids: list[int], scene_types: list[dict]) -> dict[int, list[dict]]:
    """For each movie: one entry per scene type {slug, name, has_model, segment_count, scene_seconds}. One query."""
    totals: dict[tuple[int, int], tuple[int, float]] = {}
    if movie_ids:
        with connection.cursor() as cur:
            cur.execute(TOTALS_SQL, [list(movie_ids)])
            totals = {(movie_id, st_id): (n, seconds) for movie_id, st_id, n, seconds in cur.fetchall()}
    result: dict[int, list[dict]] = defaultdict(list)
    for movie_id in movie_ids:
        for st in scene_types:
            n, seconds = totals.get((movie_id, st["id"]), (0, 0.0))
            result[movie_id].append(
                {"slug": st["slug"], "name": st["name"], "has_model": st["has_model"], "segment_count": n,
                 "scene_seconds": round(max(seconds, 0.0), 3)}
            )
    return result


# --- segments -------------------------------------------------------------------------------------------

SEGMENT_FIELDS = (
    "id", "movie_id", "start_s", "end_s", "confidence", "source", "model_version_id", "created_at",
)
SEGMENT_ORDERINGS = {
    "movie": ("movie__title", "movie_id", "start_s"),
    "start_s": ("movie_id", "start_s"),
    "-confidence": ("-confidence", "id"),
    "confidence": ("confidence", "id"),
    "-duration": ("-duration", "id"),
    "duration": ("duration", "id"),
    "-created_at": ("-created_at", "-id"),
}


def segment_get(*, segment_id: int) -> Segment:
    return get_object_or_404(Segment.objects.select_related("movie", "scene_type"), pk=segment_id)


def _segment_values(queryset: QuerySet) -> QuerySet:
    return queryset.annotate(
        movie_title=F("movie__title"), scene_type_slug=F("scene_type__slug"), scene_type_name=F("scene_type__name"),
        uploaded_by_id=F("movie__uploaded_by_id"),
    ).values(*SEGMENT_FIELDS, "movie_title", "scene_type_slug", "scene_type_name", "uploaded_by_id")


def segment_list(*, movie: Movie, scene_type: str | None = None, scene_types: list[dict] | None = None) -> QuerySet:
    queryset = Segment.objects.filter(movie=movie)
    if scene_type:
        known = scene_types if scene_types is not None else scene_types_with_model_flag()
        st = scene_type_by_slug(scene_type, scene_types=known)
        queryset = queryset.filter(scene_type_id=st["id"])
    return _segment_values(queryset.order_by("start_s", "scene_type_id", "id"))


def segment_search(
    *,
    scene_types: list[dict],
    scene_type: str | None = None,
    search: str = "",
    min_duration: float | None = None,
    movie_id: int | None = None,
    source: str | None = None,
    ordering: str = "movie",
) -> QuerySet:
    """Scenes across the library, as dicts."""
    ordering = ordering or "movie"
    if ordering not in SEGMENT_ORDERINGS:
        raise ValidationError(
            {"ordering": f"Unknown ordering '{ordering}'; choose one of: {', '.join(SEGMENT_ORDERINGS)}."}
        )
    queryset = Segment.objects.all()
    if scene_type:
        queryset = queryset.filter(scene_type_id=scene_type_by_slug(scene_type, scene_types=scene_types)["id"])
    if search:
        queryset = queryset.filter(movie__title__icontains=search)
    if movie_id is not None:
        queryset = queryset.filter(movie_id=movie_id)
    if source:
        queryset = queryset.filter(source=source)
    if min_duration or "duration" in ordering:
        queryset = queryset.annotate(duration=F("end_s") - F("start_s"))
        if min_duration:
            queryset = queryset.filter(duration__gte=min_duration)
    return _segment_values(queryset.order_by(*SEGMENT_ORDERINGS[ordering]))


# --- annotations ----------------------------------------------------------------------------------------


def annotation_list(*, movie: Movie, scene_type: str | None = None) -> QuerySet:
    queryset = Annotation.objects.filter(movie=movie).select_related("scene_type", "author")
    if scene_type:
        queryset = queryset.filter(scene_type__slug=scene_type)
    return queryset.order_by("start_s", "id")


def annotation_get(*, annotation_id: int) -> Annotation:
    return get_object_or_404(Annotation.objects.select_related("movie", "scene_type", "author"), pk=annotation_id)


# --- chapters -------------------------------------------------------------------------------------------


def vtt_timestamp(seconds: float) -> str:
    millis = int(round(max(seconds, 0.0) * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def movie_chapters_vtt(*, movie: Movie) -> str:
    """WebVTT chapters: one cue per segment (detected and manual), titled with the scene type's name."""
    segments = (
        Segment.objects.filter(movie=movie).order_by("start_s", "end_s", "id")
        .values_list("id", "start_s", "end_s", "source", "scene_type__name")
    )
    lines = ["WEBVTT", ""]
    for segment_id, start_s, end_s, source, name in segments:
        title = name if source == "detected" else f"{name} (manual)"
        lines += [f"segment-{segment_id}", f"{vtt_timestamp(start_s)} --> {vtt_timestamp(end_s)}",
                  title.replace("-->", "->"), ""]
    return "\n".join(lines)


def movie_row(*, movie_id: int) -> dict:
    """One movie as a `movie_list`-shaped dict, or 404."""
    row = (
        Movie.objects.filter(pk=movie_id)
        .annotate(uploaded_by_username=F("uploaded_by__username"))
        .values(*MOVIE_FIELDS, "uploaded_by_username")
        .first()
    )
    if row is None:
        from django.http import Http404

        raise Http404
    return row


# --- fast counts for pagination -------------------------------------------------------------------------


def movie_list_count(
    *, scene_types: list[dict], search: str = "", scene_type: str | None = None, min_segments: int | None = None,
    status: str | None = None, **_ignored,
) -> int | None:
    """The number of movies `movie_list` returns, from the trigger-kept totals when that is exact; else None.

    Counting 10,000 joined rows took longer than the page itself; one index range of the totals does not.
    """
    if search or status or not scene_type:
        return None
    scene_type_id = scene_type_by_slug(scene_type, scene_types=scene_types)["id"]
    minimum = 1 if min_segments is None else min_segments
    if minimum <= 0:
        return None
    with connection.cursor() as cur:
        cur.execute(COUNT_WITH_MIN_SQL, [scene_type_id, minimum])
        return cur.fetchone()[0]


def segment_search_count(
    *, scene_types: list[dict], scene_type: str | None = None, search: str = "", min_duration: float | None = None,
    movie_id: int | None = None, source: str | None = None, **_ignored,
) -> int | None:
    """The number of scenes `segment_search` returns, summed from the per-movie totals when that is exact."""
    if not scene_type or min_duration or movie_id is not None or source:
        return None
    sql = SEARCH_COUNT_SQL
    params: list = [scene_type_by_slug(scene_type, scene_types=scene_types)["id"]]
    if search:  # the same test as icontains, so the trigram index serves both
        sql += " AND UPPER(m.title::text) LIKE UPPER(%s)"
        params.append(f"%{connection.ops.prep_for_like_query(search)}%")
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchone()[0]
