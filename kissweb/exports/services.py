"""Writes of exports: asking for one (which queues its run), making it (the worker), deleting, and the sweeper that
removes expired ones. The pictures and sounds themselves are made by `render` (moviepy)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from kissweb import errors, permissions
from kissweb.exports import render, sheet, streamcopy
from kissweb.exports.models import Export, ExportKind
from kissweb.jobs.models import ACTIVE_RUN_STATUSES, Run
from kissweb.jobs.runner import runner_for
from kissweb.library.models import Movie, SceneType, Segment

EXPORTS_DIR = "exports"
EXPORT_RUN_KIND = "export"  # kissweb.exports.runners.ExportRunner
MAX_PADDING_S = 30.0
MAX_CLIP_FPS = 60.0
SUPERCUT_MAX_FPS = 30.0
CROSSFADE_S = 0.5
CARD_S = 2.0
SHEET_FRAMES = 6
SHEET_MAX_ROWS = 300  # ~200 MB of picture in memory while the PNG is written
QUOTA_RETRY_S = 60  # Retry-After when none of the person's exports has an ETA yet

Report = Callable[..., None]


def clock(seconds: float) -> str:
    """3725.4 -> "1:02:05", 75 -> "1:15"."""
    total = int(seconds)
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _ttl() -> timedelta:
    return timedelta(seconds=int(settings.KISSWEB_EXPORT_TTL_S))


def _scene(segment: Segment | dict) -> dict:
    get = segment.get if isinstance(segment, dict) else lambda name: getattr(segment, name)
    return {
        "segment_id": get("id"), "movie_id": get("movie_id"), "start_s": float(get("start_s")),
        "end_s": float(get("end_s")), "confidence": get("confidence"), "source": get("source"),
    }


def max_length_s() -> float:
    """The longest any export may last (clips and supercuts; a contact sheet is capped in rows)."""
    return float(settings.KISSWEB_EXPORT_MAX_MINUTES) * 60


def _require_quota(user) -> None:
    """At most KISSWEB_EXPORT_MAX_ACTIVE exports queued or being made per person. The person's row is locked first,
    so that concurrent requests of one person are counted one after another."""
    from django.contrib.auth import get_user_model

    get_user_model().objects.select_for_update().filter(pk=user.pk).first()
    limit = int(settings.KISSWEB_EXPORT_MAX_ACTIVE)
    active = Run.objects.filter(kind=EXPORT_RUN_KIND, requested_by_id=user.pk, status__in=ACTIVE_RUN_STATUSES)
    etas = list(active.values_list("eta_s", flat=True))
    if len(etas) >= limit:
        known = [eta for eta in etas if eta is not None]
        raise errors.TooMany(
            f"You already have {len(etas)} exports queued or being made, the most one person may have at once on "
            "this server. Wait until one is done (or cancel one), then ask again.",
            code="export_quota", retry_after_s=min(known) if known else QUOTA_RETRY_S,
            extra={"limit": limit},
        )


def _too_long(what: str, seconds: float) -> errors.Unprocessable:
    return errors.Unprocessable(
        f"{what} lasts {clock(seconds)}; an export may last at most {clock(max_length_s())}. Export a shorter "
        "scene, or ask your administrator to raise the limit.", code="export_too_long",
    )


def _queue(export: Export, *, user) -> Export:
    runner_for(EXPORT_RUN_KIND).request(subject_id=export.pk, requested_by=user, stage="waiting for a worker")
    return export


def _require_ready(movie: Movie) -> None:
    if not movie.file:
        raise errors.Conflict(f"'{movie.title}' has no video file yet (it is {movie.status}); export it once it has.",
                              code="movie_not_ready")


@transaction.atomic
def export_request_clip(*, segment: Segment, padding_s: float = 1.0, user) -> Export:
    """Queue a clip of one scene (detected or manual), `padding_s` seconds before and after."""
    permissions.require(user=user, action=permissions.EXPORT, subject=segment)
    if not 0 <= padding_s <= MAX_PADDING_S:
        message = f"padding_s must be between 0 and {MAX_PADDING_S:g} seconds."
        raise errors.Invalid(message, fields={"padding_s": message})
    _require_ready(segment.movie)
    start = max(segment.start_s - padding_s, 0.0)
    end = min(segment.end_s + padding_s, segment.movie.duration_s or segment.end_s + padding_s)
    if end - start > max_length_s():
        raise _too_long("This scene with its padding", end - start)
    _require_quota(user)
    export = Export.objects.create(
        kind=ExportKind.CLIP, requested_by=user, movie=segment.movie, scene_type_id=segment.scene_type_id,
        params={"padding_s": padding_s}, scenes=[_scene(segment)], expires_at=timezone.now() + _ttl(),
    )
    return _queue(export, user=user)


def _fitting(scenes: list[dict], *, limit_s: float, card_s: float) -> list[dict]:
    """The scenes in order, as many as fit in limit_s seconds of supercut (overlaps counted once, title cards
    included)."""
    chosen, total, reached = [], 0.0, 0.0
    for scene in scenes:
        added = max(scene["end_s"] - max(scene["start_s"], reached), 0.0) + card_s
        if total + added > limit_s:
            break
        chosen.append(scene)
        total, reached = total + added, max(reached, scene["end_s"])
    return chosen


def _movie_scenes(movie: Movie, scene_type: SceneType) -> list[dict]:
    rows = Segment.objects.filter(movie=movie, scene_type=scene_type).order_by("start_s", "end_s", "id").values(
        "id", "movie_id", "start_s", "end_s", "confidence", "source"
    )
    return [_scene(row) for row in rows]


@transaction.atomic
def export_request_for_movie(
    *, movie: Movie, kind: str, scene_type: SceneType, user, title_cards: bool = False,
) -> Export:
    """Queue a supercut or a contact sheet of every scene of `scene_type` in `movie`."""
    permissions.require(user=user, action=permissions.EXPORT, subject=movie)
    if kind not in (ExportKind.SUPERCUT, ExportKind.CONTACT_SHEET):
        message = "For a film, kind must be 'supercut' or 'contact_sheet' (a clip is exported from its scene)."
        raise errors.Invalid(message, fields={"kind": message})
    _require_ready(movie)
    every = _movie_scenes(movie, scene_type)
    scenes = every
    if not scenes:
        raise errors.Conflict(f"'{movie.title}' has no {scene_type.name.lower()} scenes to export.", code="no_scenes")
    found = len(scenes)
    what = scene_type.name.lower()
    if kind == ExportKind.CONTACT_SHEET:
        scenes = scenes[:SHEET_MAX_ROWS]
        note = (f"The contact sheet shows the first {len(scenes)} of the {found} {what} scenes: a sheet has at most "
                f"{SHEET_MAX_ROWS} rows." if len(scenes) < found else "")
    else:
        scenes = _fitting(scenes, limit_s=max_length_s(), card_s=CARD_S if title_cards else 0.0)
        if not scenes:
            raise _too_long(f"The first {what} scene of '{movie.title}'", every[0]["end_s"] - every[0]["start_s"])
        note = (f"The supercut holds the first {len(scenes)} of the {found} {what} scenes: more would make it "
                f"longer than {clock(max_length_s())}, the longest an export may last." if len(scenes) < found else "")
    _require_quota(user)
    export = Export.objects.create(
        kind=kind, requested_by=user, movie=movie, scene_type=scene_type,
        params={"title_cards": title_cards, "left_out": found - len(scenes), "note": note},
        scenes=scenes, expires_at=timezone.now() + _ttl(),
    )
    return _queue(export, user=user)


def search_scenes(*, filters: dict, max_scenes: int, max_minutes: float, card_s: float = 0.0) -> tuple[list[dict], int]:
    """The scenes of a scene search in its order, until max_scenes or max_minutes (title cards included) is reached,
    and how many scenes the search finds in all."""
    from kissweb.library import selectors

    chosen, seconds, page, found = [], 0.0, 1, 0
    while len(chosen) < max_scenes:
        result = selectors.segment_page(page=page, page_size=200, **filters)
        found = result.count
        for row in result.rows:
            length = row["end_s"] - row["start_s"] + card_s
            if len(chosen) >= max_scenes or seconds + length > max_minutes * 60:
                return chosen, found
            chosen.append(_scene(row))
            seconds += length
        if page * 200 >= result.count:
            break
        page += 1
    return chosen, found


@transaction.atomic
def export_request_from_search(
    *, filters: dict, user, max_scenes: int | None = None, max_minutes: float | None = None,
    title_cards: bool = False,
) -> Export:
    """Queue a supercut of the scenes a scene search finds (the Scenes page's filters), within the limits."""
    permissions.require(user=user, action=permissions.CREATE, subject="export")
    cap_scenes, cap_minutes = int(settings.KISSWEB_EXPORT_MAX_SCENES), float(settings.KISSWEB_EXPORT_MAX_MINUTES)
    max_scenes = min(max_scenes or cap_scenes, cap_scenes)
    max_minutes = min(max_minutes or cap_minutes, cap_minutes)
    scenes, found = search_scenes(filters=filters, max_scenes=max_scenes, max_minutes=max_minutes,
                                  card_s=CARD_S if title_cards else 0.0)
    ready = set(Movie.objects.filter(pk__in={s["movie_id"] for s in scenes}).exclude(file="").values_list("pk",
                                                                                                        flat=True))
    scenes = [s for s in scenes if s["movie_id"] in ready]
    if not scenes:
        raise errors.Conflict("No scene fits this search (within the limits), so there is nothing to export.",
                              code="no_scenes")
    for movie in Movie.objects.filter(pk__in=ready):
        permissions.require(user=user, action=permissions.EXPORT, subject=movie)
    note = (f"The supercut holds {len(scenes)} of the {found} scenes this search finds (at most {max_scenes} "
            f"scenes and {clock(max_minutes * 60)} of film per export)."
            if len(scenes) < found else "")
    _require_quota(user)
    slug = filters.get("scene_type")
    export = Export.objects.create(
        kind=ExportKind.SUPERCUT, requested_by=user, scene_type=SceneType.objects.filter(slug=slug).first() if slug
        else None, params={"filters": filters, "max_scenes": max_scenes, "max_minutes": max_minutes,
                           "title_cards": title_cards, "left_out": found - len(scenes), "note": note},
        scenes=scenes, expires_at=timezone.now() + _ttl(),
    )
    return _queue(export, user=user)


# --- making it (the worker) ------------------------------------------------------------------------------------


def _merged(scenes: list[dict]) -> list[dict]:
    """Scenes of one film in time order with overlaps joined (a manual and a detected scene over the same span)."""
    out: list[dict] = []
    for scene in sorted(scenes, key=lambda s: (s["start_s"], s["end_s"])):
        if out and scene["start_s"] <= out[-1]["end_s"]:
            out[-1] = {**out[-1], "end_s": max(out[-1]["end_s"], scene["end_s"])}
        else:
            out.append(dict(scene))
    return out


def _source(movie: Movie) -> Path:
    path = Path(settings.MEDIA_ROOT) / movie.file.name
    if not movie.file or not path.is_file():
        raise render.SourceUnreadable(f"The video file of '{movie.title}' is missing from the server's media folder.")
    return path


def export_render(*, export_id: int, report: Report, on_done: Callable[[], None] | None = None) -> Export:
    """Make the export's file (the worker's work) and record it; the file is whole or absent. `on_done` runs in the
    transaction that records the file (the run's success is written with it)."""
    export = Export.objects.select_related("movie").get(pk=export_id)
    movies = {m.pk: m for m in Movie.objects.filter(pk__in={s["movie_id"] for s in export.scenes})}
    scenes = [s for s in export.scenes if s["movie_id"] in movies]
    if not scenes:
        raise render.SourceUnreadable("The films of this export were deleted.")
    suffix = ".png" if export.kind == ExportKind.CONTACT_SHEET else ".mp4"
    name = f"{EXPORTS_DIR}/{export.pk}-{uuid.uuid4().hex[:12]}{suffix}"
    output = Path(settings.MEDIA_ROOT) / name
    encoding = render.Encoding(preset=settings.KISSWEB_EXPORT_X264_PRESET)
    max_height = int(settings.KISSWEB_EXPORT_MAX_HEIGHT)
    started = time.monotonic()
    stage = {ExportKind.CLIP: "cutting the clip", ExportKind.SUPERCUT: "rendering the supercut",
             ExportKind.CONTACT_SHEET: "drawing the contact sheet"}[export.kind]

    def progress(fraction: float) -> None:
        elapsed = time.monotonic() - started
        eta = elapsed / fraction * (1 - fraction) if fraction > 0.02 else None
        report(progress=min(fraction, 0.99), stage=stage, eta_s=eta)

    report(progress=0.0, stage=stage, force=True)
    if export.kind == ExportKind.CLIP:
        scene, movie = scenes[0], movies[scenes[0]["movie_id"]]
        padding = float(export.params.get("padding_s", 1.0))
        start, end = max(scene["start_s"] - padding, 0.0), min(scene["end_s"] + padding, movie.duration_s)
        fps = render.output_fps([movie.fps], max_fps=MAX_CLIP_FPS)
        size = render.output_size([(movie.width, movie.height)], max_height=max_height)
        source = _source(movie)
        if movie.width == size[0] and movie.height == size[1] and streamcopy.stream_copy_possible(
                source, start, end, duration_s=movie.duration_s):
            streamcopy.copy_clip(source=source, start_s=start, end_s=end, output=output)
        else:
            render.render_clip(source=source, start_s=start, end_s=end, size=size, fps=fps,
                               has_audio=bool(movie.has_audio), output=output, encoding=encoding, progress=progress)
    elif export.kind == ExportKind.SUPERCUT:
        if export.movie_id is not None:
            scenes = _merged(scenes)
        cards = bool(export.params.get("title_cards"))
        cuts = [render.Cut(_source(movies[s["movie_id"]]), s["start_s"], s["end_s"],
                           bool(movies[s["movie_id"]].has_audio),
                           card=(movies[s["movie_id"]].title, f"{clock(s['start_s'])} – {clock(s['end_s'])}")
                           if cards else ()) for s in scenes]
        sources = [(movies[s["movie_id"]].width, movies[s["movie_id"]].height) for s in scenes]
        size = render.output_size(sources, max_height=max_height)
        fps = render.output_fps([movies[s["movie_id"]].fps for s in scenes], max_fps=SUPERCUT_MAX_FPS)
        render.render_supercut(cuts=cuts, source_sizes=sources, size=size, fps=fps, output=output,
                               crossfade_s=CROSSFADE_S, card_s=CARD_S if cards else 0.0, encoding=encoding,
                               progress=progress)
    else:
        rows = [sheet.SheetRow(_source(movies[s["movie_id"]]), s["start_s"], s["end_s"], _sheet_lines(
            movies[s["movie_id"]], s)) for s in scenes]
        sheet.render_contact_sheet(rows=rows, output=output, frames_per_row=SHEET_FRAMES, progress=progress,
                                   footer=_sheet_footer(export))
    try:
        with transaction.atomic():
            if not Export.objects.filter(pk=export.pk).update(
                file=name, size_bytes=output.stat().st_size, expires_at=timezone.now() + _ttl(),
            ):
                raise errors.NotFound(f"Export {export.pk} was deleted while it was made.")
            if on_done is not None:
                on_done()
    except BaseException:
        output.unlink(missing_ok=True)
        raise
    export.refresh_from_db()
    return export


def _sheet_footer(export: Export) -> str:
    left_out = int(export.params.get("left_out") or 0)
    if not left_out:
        return ""
    return (f"{left_out} more scene{'s' if left_out > 1 else ''} not shown: a contact sheet has at most "
            f"{len(export.scenes)} rows.")


def _sheet_lines(movie: Movie, scene: dict) -> tuple[str, ...]:
    length = scene["end_s"] - scene["start_s"]
    sure = ("added by a person" if scene["source"] == "manual" or scene["confidence"] is None
            else f"{round(scene['confidence'] * 100)} % sure")
    return (movie.title, f"{clock(scene['start_s'])} – {clock(scene['end_s'])} ({length:.0f} s)", sure)


# --- deleting --------------------------------------------------------------------------------------


def export_delete(*, export: Export, user) -> None:
    """Delete an export: its file goes after the commit, and its run stops (kissweb.exports.signals)."""
    permissions.require(user=user, action=permissions.DELETE, subject=export)
    with transaction.atomic():
        export.delete()
