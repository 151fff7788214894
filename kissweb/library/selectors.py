"""Reads. Views and pages get their data here."""

from __future__ import annotations

from collections import defaultdict

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import F, Prefetch, QuerySet
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
# ORDER BY clauses by the API's ordering names (a whitelist: nothing from the request reaches the SQL text).
MOVIE_ORDERINGS = {
    "-created_at": "m.created_at DESC, m.id DESC",
    "created_at": "m.created_at ASC, m.id ASC",
    "title": "m.title ASC, m.id ASC",
    "-title": "m.title DESC, m.id DESC",
    "-segment_count": "segment_count DESC, m.created_at DESC, m.id DESC",
    "segment_count": "segment_count ASC, m.created_at DESC, m.id DESC",
    "-scene_seconds": "scene_seconds DESC, m.created_at DESC, m.id DESC",
    "scene_seconds": "scene_seconds ASC, m.created_at DESC, m.id DESC",
}


class SqlRows:
    """The rows of one SELECT as dicts, sliceable and countable for Django's Paginator (LIMIT/OFFSET per page)."""

    def __init__(self, *, sql: str, params: list, count_sql: str, count_params: list):
        self.sql, self.params = sql, params
        self.count_sql, self.count_params = count_sql, count_params

    def count(self) -> int:
        with connection.cursor() as cur:
            cur.execute(self.count_sql, self.count_params)
            return cur.fetchone()[0]

    def __getitem__(self, index: slice) -> list[dict]:
        if not isinstance(index, slice) or index.step is not None:
            raise TypeError("SqlRows only supports plain slices")
        start = index.start or 0
        limit = "ALL" if index.stop is None else str(max(index.stop - start, 0))
        with connection.cursor() as cur:
            cur.execute(f"{self.sql} LIMIT {limit} OFFSET %s", [*self.params, start])
            names = [column.name for column in cur.description]
            return [dict(zip(names, row)) for row in cur.fetchall()]


def movie_get(*, movie_id: int) -> Movie:
    return get_object_or_404(Movie.objects.select_related("uploaded_by"), pk=movie_id)


def movie_list(
    *,
    scene_types: list[dict],
    search: str = "",
    scene_type: str | None = None,
    min_segments: int | None = None,
    status: str | None = None,
    ordering: str = "-created_at",
) -> SqlRows:
    """Movies as dicts, filtered and ordered, counted from the trigger-kept totals where that is exact.

    `scene_type` alone means "has at least one scene of that type" (min_segments defaults to 1);
    min_segments=0 keeps every movie and only chooses which scene type the ordering counts.
    Plain SQL: this runs on every library page and the ORM spent more time building it than Postgres running it.
    """
    ordering = ordering or "-created_at"
    if ordering not in MOVIE_ORDERINGS:
        raise ValidationError(
            {"ordering": f"Unknown ordering '{ordering}'; choose one of: {', '.join(MOVIE_ORDERINGS)}."}
        )
    scene_type_id = scene_type_by_slug(scene_type, scene_types=scene_types)["id"] if scene_type else None
    if scene_type_id is not None and min_segments is None:
        min_segments = 1
    stats_table = MovieSceneStats._meta.db_table
    joins, where, join_params, where_params = [], [], [], []
    if scene_type_id is not None:
        # One row per movie and scene type: a LEFT JOIN (Postgres makes it inner once min_segments filters on it).
        joins.append(f"LEFT JOIN {stats_table} s ON s.movie_id = m.id AND s.scene_type_id = %s")
        join_params.append(scene_type_id)
        count_expr, seconds_expr = "COALESCE(s.segment_count, 0)", "COALESCE(s.scene_seconds, 0)"
    else:
        count_expr = f"COALESCE((SELECT sum(t.segment_count) FROM {stats_table} t WHERE t.movie_id = m.id), 0)"
        seconds_expr = f"COALESCE((SELECT sum(t.scene_seconds) FROM {stats_table} t WHERE t.movie_id = m.id), 0)"
    if search:  # the same test as icontains, so the trigram index (where there is one) serves it
        where.append("UPPER(m.title::text) LIKE UPPER(%s)")
        where_params.append(f"%{connection.ops.prep_for_like_query(search)}%")
    if status:
        where.append("m.status = %s")
        where_params.append(status)
    if min_segments:
        where.append(f"{count_expr} >= %s")
        where_params.append(min_segments)
    movie_table, user_table = Movie._meta.db_table, get_user_model()._meta.db_table
    from_sql = f"FROM {movie_table} m {' '.join(joins)}"
    where_sql = f"WHERE {' AND '.join(where)}" if where else ""
    columns = ", ".join(f"m.{name}" for name in MOVIE_FIELDS)
    sql = (
        f"SELECT {columns}, {count_expr} AS segment_count, {seconds_expr} AS scene_seconds, "
        f"(SELECT u.username FROM {user_table} u WHERE u.id = m.uploaded_by_id) AS uploaded_by_username "
        f"{from_sql} {where_sql} ORDER BY {MOVIE_ORDERINGS[ordering]}"
    )
    params = [*join_params, *where_params]
    if scene_type_id is not None and min_segments and not search and not status:
        # Every totals row belongs to a movie: counting the totals' index range is exact and much cheaper.
        count_sql, count_params = COUNT_WITH_MIN_SQL, [scene_type_id, min_segments]
    else:
        count_sql, count_params = f"SELECT count(*) {from_sql} {where_sql}", params
    return SqlRows(sql=sql, params=params, count_sql=count_sql, count_params=count_params)


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
    "movie": "m.title ASC, seg.movie_id ASC, seg.start_s ASC, seg.id ASC",
    "start_s": "seg.movie_id ASC, seg.start_s ASC, seg.id ASC",
    "-confidence": "seg.confidence DESC, seg.id ASC",
    "confidence": "seg.confidence ASC, seg.id ASC",
    "-duration": "(seg.end_s - seg.start_s) DESC, seg.id ASC",
    "duration": "(seg.end_s - seg.start_s) ASC, seg.id ASC",
    "-created_at": "seg.created_at DESC, seg.id DESC",
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
) -> SqlRows:
    """Scenes across the library, as dicts (the fields of `_segment_values`). Plain SQL, as `movie_list`."""
    ordering = ordering or "movie"
    if ordering not in SEGMENT_ORDERINGS:
        raise ValidationError(
            {"ordering": f"Unknown ordering '{ordering}'; choose one of: {', '.join(SEGMENT_ORDERINGS)}."}
        )
    where, params = [], []
    scene_type_id = scene_type_by_slug(scene_type, scene_types=scene_types)["id"] if scene_type else None
    if scene_type_id is not None:
        where.append("seg.scene_type_id = %s")
        params.append(scene_type_id)
    pattern = f"%{connection.ops.prep_for_like_query(search)}%"
    if search:  # the same test as icontains, so the trigram index (where there is one) serves it
        where.append("UPPER(m.title::text) LIKE UPPER(%s)")
        params.append(pattern)
    if movie_id is not None:
        where.append("seg.movie_id = %s")
        params.append(movie_id)
    if source:
        where.append("seg.source = %s")
        params.append(source)
    if min_duration:
        where.append("seg.end_s - seg.start_s >= %s")
        params.append(min_duration)
    from_sql = (
        f"FROM {Segment._meta.db_table} seg JOIN {Movie._meta.db_table} m ON m.id = seg.movie_id "
        f"JOIN {SceneType._meta.db_table} st ON st.id = seg.scene_type_id"
    )
    where_sql = f"WHERE {' AND '.join(where)}" if where else ""
    columns = ", ".join(f"seg.{name}" for name in SEGMENT_FIELDS)
    sql = (
        f"SELECT {columns}, m.title AS movie_title, st.slug AS scene_type_slug, st.name AS scene_type_name, "
        f"m.uploaded_by_id AS uploaded_by_id {from_sql} {where_sql} ORDER BY {SEGMENT_ORDERINGS[ordering]}"
    )
    if scene_type_id is not None and not (min_duration or movie_id is not None or source):
        # Summing the per-movie totals is exact here and far cheaper than counting every matching segment.
        count_sql, count_params = SEARCH_COUNT_SQL, [scene_type_id]
        if search:
            count_sql += " AND UPPER(m.title::text) LIKE UPPER(%s)"
            count_params.append(pattern)
    else:
        count_sql, count_params = f"SELECT count(*) {from_sql} {where_sql}", params
    return SqlRows(sql=sql, params=params, count_sql=count_sql, count_params=count_params)


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
