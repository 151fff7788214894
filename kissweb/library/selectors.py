"""Reads. Views and pages get their data here."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import F, Prefetch, QuerySet
from django.utils import timezone

from kissweb import errors
from kissweb.library.models import Annotation, Movie, MovieSceneStats, SceneCountBucket, SceneType, Segment
from kissweb.library.prepared import execute_prepared

# A scene type's models are kissweb.analysis's table (the layer above, which points here): read through that relation,
# never by importing the app.
ModelVersion = SceneType.model_versions.rel.related_model


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


def scene_defaults() -> dict:
    """The scene settings a new scene type starts with, and the named presets (detector.aggregate defines both)."""
    from detector.aggregate import DEFAULT_PRESET, PRESETS

    return {
        "preset": DEFAULT_PRESET, **PRESETS[DEFAULT_PRESET].settings(),
        "presets": [
            {"name": p.name, "label": p.label, "description": p.description, **p.settings()} for p in PRESETS.values()
        ],
    }


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


def unknown_scene_type(slug: str, *, param: str | None = None, known: str | None = None) -> errors.DomainError:
    """The one answer to a slug that names no scene type: 400 naming the parameter `param` (a filter or a form
    field), or 404 without one (the slug is in the path)."""
    message = f"There is no scene type '{slug}'; known scene types: {known or _known_slugs()}."
    if param is None:
        return errors.NotFound(message, code="unknown_scene_type")
    return errors.Invalid(message, code="unknown_scene_type", fields={param: message})


def scene_type_get(*, slug: str, param: str | None = None) -> SceneType:
    """The scene type with this slug; `unknown_scene_type(slug, param=param)` when there is none."""
    scene_type = SceneType.objects.filter(slug=slug).first()
    if scene_type is None:
        raise unknown_scene_type(slug, param=param)
    return scene_type


# The movie detail reads these two; the lists read the same in their one statement (see `_list_page`).
SCENE_TYPES_SQL = f"""
    SELECT st.id, st.slug, st.name,
           EXISTS (SELECT 1 FROM {ModelVersion._meta.db_table} mv WHERE mv.scene_type_id = st.id AND mv.is_active)
      FROM {SceneType._meta.db_table} st ORDER BY st.slug
"""
TOTALS_SQL = f"""
    SELECT movie_id, scene_type_id, segment_count, scene_seconds
      FROM {MovieSceneStats._meta.db_table} WHERE movie_id = ANY(%s)
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
    raise unknown_scene_type(slug, param=param, known=", ".join(sorted(s["slug"] for s in scene_types)) or "none yet")


# --- movies ---------------------------------------------------------------------------------------------

MOVIE_FIELDS = (
    "id", "title", "year", "original_filename", "size_bytes", "duration_s", "width", "height", "fps", "has_audio",
    "status", "progress", "eta_s", "error", "audio_warning", "created_at", "uploaded_by_id", "poster", "file",
)
# ORDER BY clauses by the API's ordering names (a whitelist: nothing from the request reaches the SQL text):
# inside the page query, and again over its rows (p) once the per-movie totals are joined to them.
MOVIE_ORDERINGS = {
    "-created_at": ("m.created_at DESC, m.id DESC", "p.created_at DESC, p.id DESC"),
    "created_at": ("m.created_at ASC, m.id ASC", "p.created_at ASC, p.id ASC"),
    "title": ("m.title ASC, m.id ASC", "p.title ASC, p.id ASC"),
    "-title": ("m.title DESC, m.id DESC", "p.title DESC, p.id DESC"),
    "-segment_count": ("segment_count DESC, m.created_at DESC, m.id DESC",
                       "p.segment_count DESC, p.created_at DESC, p.id DESC"),
    "segment_count": ("segment_count ASC, m.created_at DESC, m.id DESC",
                      "p.segment_count ASC, p.created_at DESC, p.id DESC"),
    "-scene_seconds": ("scene_seconds DESC, m.created_at DESC, m.id DESC",
                       "p.scene_seconds DESC, p.created_at DESC, p.id DESC"),
    "scene_seconds": ("scene_seconds ASC, m.created_at DESC, m.id DESC",
                      "p.scene_seconds ASC, p.created_at DESC, p.id DESC"),
}
# The orderings an index serves (the page query walks it and stops after one page): their plans do not depend on
# the values, so without a title search these statements run prepared on generic plans (see `prepared`). The
# orderings that sort every matching row (scene counts and seconds) are planned for their values each time.
INDEX_WALK_MOVIE_ORDERINGS = frozenset({"-created_at", "created_at", "title", "-title"})
CHOSEN_SCENE_TYPE_SQL = f"(SELECT id FROM {SceneType._meta.db_table} WHERE slug = %(scene_type)s)"
SCENE_TYPES_JSON_SQL = f"""(
    SELECT json_agg(json_build_object(
               'id', st.id, 'slug', st.slug, 'name', st.name,
               'has_model', EXISTS (SELECT 1 FROM {ModelVersion._meta.db_table} mv
                                     WHERE mv.scene_type_id = st.id AND mv.is_active)) ORDER BY st.slug)
      FROM {SceneType._meta.db_table} st)::text"""
# Per page row, its totals rows (scene type id, count, seconds) as three arrays: one index probe per movie.
PAGE_TOTALS_JOIN_SQL = f"""
    LEFT JOIN LATERAL (
        SELECT array_agg(t.scene_type_id) AS _st_ids, array_agg(t.segment_count) AS _counts,
               array_agg(t.scene_seconds) AS _seconds
          FROM {MovieSceneStats._meta.db_table} t WHERE t.movie_id = p.id
    ) totals ON true"""


@dataclass(frozen=True)
class ListPage:
    """One page of a list: its rows, the exact count of every matching row, and the page number it is."""

    rows: list[dict]
    count: int
    page: int


def _list_page(
    *, count_sql: str, page_sql: str, outer_order: str, params: dict, page: int | None, page_size: int,
    meta_columns: str = "", totals_join: str = "", totals_columns: str = "", prepare: bool = False,
) -> tuple[dict, ListPage]:
    """Count, page and whatever else the list needs, in one statement (one round trip, one plan).

    The page rows join a single-row base, so that an empty page still brings back the count and the `meta`
    columns. page=None is the last page (its offset is computed from the count). prepare: run it as a prepared
    statement with a generic plan (see `prepared`), for shapes whose plan does not depend on the values.
    Returns (meta, page).
    """
    if page is None:  # the last page: its offset needs the count, so the count becomes a CTE both read
        with_total = f"WITH total AS (SELECT ({count_sql}) AS n)"
        total = "(SELECT n FROM total)"
        offset = "(SELECT (GREATEST((n + %(limit)s - 1) / %(limit)s, 1) - 1) * %(limit)s FROM total)"
    else:  # a plain subquery plans in half the time of the CTE (0.4 instead of 0.7 ms for the scene search)
        total, offset, with_total = f"({count_sql})", "%(offset)s", ""
    meta = f"{meta_columns}, " if meta_columns else ""
    sql = f"""
        {with_total}
        SELECT {meta}{total} AS _total, p.*{totals_columns}
          FROM (SELECT 1) AS one
          LEFT JOIN LATERAL ({page_sql} LIMIT %(limit)s OFFSET {offset}) p ON true
          {totals_join}
         ORDER BY {outer_order}"""
    params = {**params, "limit": page_size, "offset": ((page or 1) - 1) * page_size}
    with connection.cursor() as cur:
        if prepare:
            execute_prepared(cur, sql, params)
        else:
            cur.execute(sql, params)
        names = [column.name for column in cur.description]
        records = cur.fetchall()
    first = names.index("_total") + 1  # the page's own columns start here; their first is the row id
    meta_values = dict(zip(names[:first], records[0][:first]))
    page_names = names[first:]
    rows = [dict(zip(page_names, record[first:])) for record in records if record[first] is not None]
    count = meta_values["_total"]
    if page is None:
        page = max(1, -(-count // page_size))
    return meta_values, ListPage(rows=rows, count=count, page=page)


def _known_slugs() -> str:
    return ", ".join(SceneType.objects.order_by("slug").values_list("slug", flat=True)) or "none yet"


def movie_get(*, movie_id: int) -> Movie:
    movie = Movie.objects.select_related("uploaded_by").filter(pk=movie_id).first()
    if movie is None:
        raise errors.NotFound(f"There is no movie {movie_id}; it may have been deleted.")
    return movie


PG_INT_MAX = 2**31 - 1


def movie_page(
    *,
    page: int | None,
    page_size: int,
    search: str = "",
    scene_type: str | None = None,
    min_segments: int | None = None,
    status: str | None = None,
    ordering: str = "-created_at",
) -> ListPage:
    """One page of movies as dicts, filtered and ordered, with the exact count and, in each row's `scene_types`,
    its count and seconds per scene type: one statement (see `_list_page`). page=None is the last page.

    `scene_type` alone means "has at least one scene of that type" (min_segments defaults to 1);
    min_segments=0 keeps every movie and only chooses which scene type the ordering counts.
    Plain SQL: this runs on every library page and the ORM spent more time building it than Postgres running it.
    """
    ordering = ordering or "-created_at"
    if ordering not in MOVIE_ORDERINGS:
        message = f"Unknown ordering '{ordering}'; choose one of: {', '.join(MOVIE_ORDERINGS)}."
        raise errors.Invalid(message, fields={"ordering": message})
    if scene_type and min_segments is None:
        min_segments = 1
    if min_segments:  # the counts are 32-bit columns: a larger minimum (the API takes any int64) matches nothing alike
        min_segments = min(min_segments, PG_INT_MAX)
    stats_table = MovieSceneStats._meta.db_table
    joins, where, params = [], [], {"scene_type": scene_type or None}
    if scene_type:
        # One row per movie and scene type: a LEFT JOIN (Postgres makes it inner once min_segments filters on it).
        joins.append(f"LEFT JOIN {stats_table} s ON s.movie_id = m.id AND s.scene_type_id = {CHOSEN_SCENE_TYPE_SQL}")
        count_expr, seconds_expr = "COALESCE(s.segment_count, 0)", "COALESCE(s.scene_seconds, 0)"
    else:
        count_expr = f"COALESCE((SELECT sum(t.segment_count) FROM {stats_table} t WHERE t.movie_id = m.id), 0)"
        seconds_expr = f"COALESCE((SELECT sum(t.scene_seconds) FROM {stats_table} t WHERE t.movie_id = m.id), 0)"
    if search:  # the same test as icontains, so the trigram index (where there is one) serves it
        where.append("UPPER(m.title::text) LIKE UPPER(%(pattern)s)")
        params["pattern"] = f"%{connection.ops.prep_for_like_query(search)}%"
    if status:
        where.append("m.status = %(status)s")
        params["status"] = status
    if min_segments:
        where.append(f"{count_expr} >= %(min_segments)s")
        params["min_segments"] = min_segments
    movie_table, user_table = Movie._meta.db_table, get_user_model()._meta.db_table
    from_sql = f"FROM {movie_table} m {' '.join(joins)}"
    where_sql = f"WHERE {' AND '.join(where)}" if where else ""
    columns = ", ".join(f"m.{name}" for name in MOVIE_FIELDS)
    inner_order, outer_order = MOVIE_ORDERINGS[ordering]
    page_sql = (
        f"SELECT {columns}, {count_expr} AS segment_count, {seconds_expr} AS scene_seconds, "
        f"(SELECT u.username FROM {user_table} u WHERE u.id = m.uploaded_by_id) AS uploaded_by_username "
        f"{from_sql} {where_sql} ORDER BY {inner_order}"
    )
    if scene_type and min_segments and not status and not search:
        # Movies per scene count, kept by the database: a few rows to sum instead of one index entry per movie.
        count_sql = (
            f"SELECT COALESCE(sum(movies), 0) FROM {SceneCountBucket._meta.db_table} "
            f"WHERE scene_type_id = {CHOSEN_SCENE_TYPE_SQL} AND segment_count >= %(min_segments)s"
        )
    elif scene_type and min_segments and not status:
        # Every totals row belongs to a movie and carries its title: counting them is exact and needs no join.
        count_sql = (
            f"SELECT count(*) FROM {stats_table} WHERE scene_type_id = {CHOSEN_SCENE_TYPE_SQL} "
            "AND segment_count >= %(min_segments)s AND UPPER(title::text) LIKE UPPER(%(pattern)s)"
        )
    else:
        count_sql = f"SELECT count(*) {from_sql} {where_sql}"
    meta, result = _list_page(
        count_sql=count_sql, page_sql=page_sql, outer_order=outer_order, params=params, page=page,
        page_size=page_size, meta_columns=f"{CHOSEN_SCENE_TYPE_SQL} AS _chosen, {SCENE_TYPES_JSON_SQL} AS _scene_types",
        totals_join=PAGE_TOTALS_JOIN_SQL, totals_columns=", totals._st_ids, totals._counts, totals._seconds",
        prepare=not search and ordering in INDEX_WALK_MOVIE_ORDERINGS,
    )
    if scene_type and meta["_chosen"] is None:
        raise unknown_scene_type(scene_type, param="scene_type")
    scene_types = json.loads(meta["_scene_types"] or "[]")
    for row in result.rows:
        st_ids, counts, seconds = row.pop("_st_ids"), row.pop("_counts"), row.pop("_seconds")
        totals = dict(zip(st_ids, zip(counts, seconds))) if st_ids else {}
        row["scene_types"] = []
        for st in scene_types:
            n, scene_seconds = totals.get(st["id"], (0, 0.0))
            row["scene_types"].append(
                {"slug": st["slug"], "name": st["name"], "has_model": st["has_model"], "segment_count": n,
                 "scene_seconds": round(max(scene_seconds, 0.0), 3)}
            )
    return result


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
SEGMENT_ORDERINGS = {  # inside the page query, and over its rows (p), as MOVIE_ORDERINGS
    "movie": ("m.title ASC, seg.movie_id ASC, seg.start_s ASC, seg.id ASC",
              "p.movie_title ASC, p.movie_id ASC, p.start_s ASC, p.id ASC"),
    "start_s": ("seg.movie_id ASC, seg.start_s ASC, seg.id ASC", "p.movie_id ASC, p.start_s ASC, p.id ASC"),
    "-confidence": ("seg.confidence DESC, seg.id ASC", "p.confidence DESC, p.id ASC"),
    "confidence": ("seg.confidence ASC, seg.id ASC", "p.confidence ASC, p.id ASC"),
    "-duration": ("(seg.end_s - seg.start_s) DESC, seg.id ASC", "(p.end_s - p.start_s) DESC, p.id ASC"),
    "duration": ("(seg.end_s - seg.start_s) ASC, seg.id ASC", "(p.end_s - p.start_s) ASC, p.id ASC"),
    "-created_at": ("seg.created_at DESC, seg.id DESC", "p.created_at DESC, p.id DESC"),
}
# As INDEX_WALK_MOVIE_ORDERINGS; "most confident" and "longest" have their own indexes (migration 0008).
INDEX_WALK_SEGMENT_ORDERINGS = frozenset({"movie", "start_s", "-confidence", "-duration"})


def segment_get(*, segment_id: int) -> Segment:
    segment = Segment.objects.select_related("movie", "scene_type").filter(pk=segment_id).first()
    if segment is None:
        raise errors.NotFound(f"There is no scene {segment_id}; it was deleted or re-detected, or never existed.")
    return segment


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


def segment_page(
    *,
    page: int | None,
    page_size: int,
    scene_type: str | None = None,
    search: str = "",
    min_duration: float | None = None,
    movie_id: int | None = None,
    source: str | None = None,
    ordering: str = "movie",
) -> ListPage:
    """One page of scenes across the library, as dicts (the fields of `_segment_values`), with the exact count:
    one statement, as `movie_page`."""
    ordering = ordering or "movie"
    if ordering not in SEGMENT_ORDERINGS:
        message = f"Unknown ordering '{ordering}'; choose one of: {', '.join(SEGMENT_ORDERINGS)}."
        raise errors.Invalid(message, fields={"ordering": message})
    where, params = [], {"scene_type": scene_type or None}
    if scene_type:
        where.append(f"seg.scene_type_id = {CHOSEN_SCENE_TYPE_SQL}")
    title_test = "UPPER(m.title::text) LIKE UPPER(%(pattern)s)"
    if search:  # the same test as icontains, so the trigram index (where there is one) serves it
        where.append(title_test)
        params["pattern"] = f"%{connection.ops.prep_for_like_query(search)}%"
    if movie_id is not None:
        where.append("seg.movie_id = %(movie_id)s")
        params["movie_id"] = movie_id
    if source:
        where.append("seg.source = %(source)s")
        params["source"] = source
    if min_duration:
        where.append("seg.end_s - seg.start_s >= %(min_duration)s")
        params["min_duration"] = min_duration
    stats_table = MovieSceneStats._meta.db_table
    from_sql = (
        f"FROM {Segment._meta.db_table} seg JOIN {Movie._meta.db_table} m ON m.id = seg.movie_id "
        f"JOIN {SceneType._meta.db_table} st ON st.id = seg.scene_type_id"
    )
    where_sql = f"WHERE {' AND '.join(where)}" if where else ""
    columns = ", ".join(f"seg.{name}" for name in SEGMENT_FIELDS)
    inner_order, outer_order = SEGMENT_ORDERINGS[ordering]
    page_sql = (
        f"SELECT {columns}, m.title AS movie_title, st.slug AS scene_type_slug, st.name AS scene_type_name, "
        f"m.uploaded_by_id AS uploaded_by_id {from_sql} {where_sql} ORDER BY {inner_order}"
    )
    if scene_type and not (min_duration or movie_id is not None or source):
        # Summing the per-movie totals is exact here and far cheaper than counting every matching segment; they
        # carry the movie's title (and its trigram index), so a title search needs no join to the movies.
        count_sql = (
            f"SELECT COALESCE(sum(s.segment_count), 0) FROM {stats_table} s "
            f"WHERE s.scene_type_id = {CHOSEN_SCENE_TYPE_SQL}"
        )
        if search:
            count_sql += " AND UPPER(s.title::text) LIKE UPPER(%(pattern)s)"
    else:  # every segment has its movie and scene type: only a title search needs a join to count
        count_from = f"FROM {Segment._meta.db_table} seg"
        if search:
            count_from += f" JOIN {Movie._meta.db_table} m ON m.id = seg.movie_id"
        count_sql = f"SELECT count(*) {count_from} {where_sql}"
    meta, result = _list_page(
        count_sql=count_sql, page_sql=page_sql, outer_order=outer_order, params=params, page=page,
        page_size=page_size, meta_columns=f"{CHOSEN_SCENE_TYPE_SQL} AS _chosen",
        prepare=not (search or min_duration) and ordering in INDEX_WALK_SEGMENT_ORDERINGS,
    )
    if scene_type and meta["_chosen"] is None:
        raise unknown_scene_type(scene_type, param="scene_type")
    return result


# --- annotations ----------------------------------------------------------------------------------------


def annotation_list(*, movie: Movie, scene_type: str | None = None) -> QuerySet:
    queryset = Annotation.objects.filter(movie=movie).select_related("scene_type", "author")
    if scene_type:
        queryset = queryset.filter(scene_type__slug=scene_type)
    return queryset.order_by("start_s", "id")


def annotation_get(*, annotation_id: int) -> Annotation:
    annotation = Annotation.objects.select_related("movie", "scene_type", "author").filter(pk=annotation_id).first()
    if annotation is None:
        raise errors.NotFound(f"There is no label {annotation_id}; it was deleted, or never existed.")
    return annotation


# --- chapters -------------------------------------------------------------------------------------------


VTT_MAX_S = 99 * 3600 + 59 * 60 + 59.999  # a cue past 99:59:59 is no time a film reaches


def vtt_timestamp(seconds: float) -> str:
    seconds = min(max(seconds, 0.0), VTT_MAX_S) if seconds == seconds else 0.0  # NaN -> 0
    millis = int(round(seconds * 1000))
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
    """One movie as a `movie_page`-shaped row (without its totals), or 404."""
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
