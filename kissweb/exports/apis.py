"""Thin API views of exports: ask for one (202 with its run), follow it, list yours, download it, delete it."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from kissweb import errors, permissions
from kissweb.exports import playable, selectors, services
from kissweb.exports.models import Export, ExportKind
from kissweb.library import selectors as library_selectors
from kissweb.library.apis import JsonNegotiation
from kissweb.library.models import SceneType
from kissweb.library.serializers import SegmentSearchFilterSerializer
from kissweb.library.streaming import ranged_file_response
from kissweb.schema import RANGE_HEADERS, paginated, ranged_file_responses
from kissweb.pagination import PAGE_FROM_1, PagesFromOne

ERRORS = errors.error_responses(400, 401, 403, 404, 409)
REQUEST_ERRORS = {**ERRORS, **errors.error_responses(422, 429)}
CONTENT_TYPES = {".mp4": "video/mp4", ".png": "image/png"}


class ExportOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    run = serializers.IntegerField(allow_null=True, help_text="The run making it: /api/runs/{id}/ (and its cancel).")
    kind = serializers.ChoiceField(choices=ExportKind.choices)
    status = serializers.ChoiceField(choices=["queued", "running", "succeeded", "failed", "cancelled"])
    progress = serializers.FloatField()
    eta_s = serializers.FloatField(allow_null=True)
    stage = serializers.CharField(allow_blank=True)
    error = serializers.CharField(allow_blank=True, help_text="Why it failed, in words for people (no server paths).")
    note = serializers.CharField(allow_blank=True, help_text="What was left out to stay within the limits, if anything.")
    scenes_left_out = serializers.IntegerField(help_text="Scenes asked for that the limits left out.")
    download_url = serializers.CharField(allow_null=True)
    file_name = serializers.CharField(allow_null=True)
    size_bytes = serializers.IntegerField(allow_null=True)
    movie = serializers.IntegerField(allow_null=True)
    scene_type = serializers.CharField(allow_null=True)
    scene_count = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()


def download_name(export: Export, *, ascii_only: bool = False) -> str:
    title = export.movie.title if export.movie_id else "scenes"
    if ascii_only:
        title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    stem = re.sub(r"[^\w\- ]+", "", title).strip().replace(" ", "-")[:80] or "export"
    suffix = Path(export.file).suffix or (".png" if export.kind == ExportKind.CONTACT_SHEET else ".mp4")
    start = services.clock(export.scenes[0]["start_s"]).replace(":", "-") if export.scenes else ""
    what = {"clip": f"clip-{start}" if start else "clip", "supercut": "supercut",
            "contact_sheet": "contact-sheet"}[export.kind]
    return f"{stem}-{what}{suffix}"


def attachment_disposition(*, name: str, ascii_name: str) -> str:
    """Content-Disposition for a download (RFC 6266): a plain ASCII `filename` for old clients and, when the name
    has other characters, `filename*` with the UTF-8 name (instead of Django's RFC 2047 encoding of the header)."""
    header = f'attachment; filename="{ascii_name}"'
    if name != ascii_name:
        header += f"; filename*=UTF-8''{quote(name, safe='')}"
    return header


def export_output(export: Export, run) -> dict:
    status = run.status if run is not None else "queued"
    ready = status == "succeeded" and bool(export.file)
    return {
        "id": export.pk, "run": run.pk if run is not None else None, "kind": export.kind, "status": status,
        "progress": run.progress if run is not None else 0.0, "eta_s": run.eta_s if run is not None else None,
        "stage": run.stage if run is not None else "",
        "error": errors.without_paths(run.error, movie_title=export.movie.title if export.movie_id else None)
        if run is not None else "",
        "note": export.params.get("note", ""), "scenes_left_out": int(export.params.get("left_out") or 0),
        "download_url": f"/api/exports/{export.pk}/download/" if ready else None,
        "file_name": download_name(export) if ready else None, "size_bytes": export.size_bytes,
        "movie": export.movie_id, "scene_type": export.scene_type.slug if export.scene_type_id else None,
        "scene_count": len(export.scenes), "created_at": export.created_at, "expires_at": export.expires_at,
    }


def _answer(export: Export, *, status: int = 200) -> Response:
    return Response(export_output(export, selectors.export_run(export=export)), status=status)


def _scene_type(slug: str) -> SceneType:
    return library_selectors.scene_type_get(slug=slug, param="scene_type")


class ClipInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=[ExportKind.CLIP], default=ExportKind.CLIP)
    padding_s = serializers.FloatField(default=1.0, min_value=0, max_value=services.MAX_PADDING_S)


class MovieExportInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=[ExportKind.SUPERCUT, ExportKind.CONTACT_SHEET])
    scene_type = serializers.SlugField(default="kissing")
    title_cards = serializers.BooleanField(default=False)


class SearchExportInputSerializer(SegmentSearchFilterSerializer):
    kind = serializers.ChoiceField(choices=[ExportKind.SUPERCUT])
    max_scenes = serializers.IntegerField(required=False, min_value=1, max_value=10_000)
    max_minutes = serializers.FloatField(required=False, min_value=0.1, max_value=10_000)
    title_cards = serializers.BooleanField(default=False)


class SegmentExportApi(APIView):
    @extend_schema(request=ClipInputSerializer, responses={202: ExportOutputSerializer, **REQUEST_ERRORS})
    def post(self, request, segment_id: int):
        segment = library_selectors.segment_get(segment_id=segment_id)
        permissions.require(user=request.user, action=permissions.EXPORT, subject=segment)
        data = ClipInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        export = services.export_request_clip(segment=segment, padding_s=data.validated_data["padding_s"],
                                              user=request.user)
        return _answer(export, status=202)


class MovieExportApi(APIView):
    @extend_schema(request=MovieExportInputSerializer, responses={202: ExportOutputSerializer, **REQUEST_ERRORS})
    def post(self, request, movie_id: int):
        movie = library_selectors.movie_get(movie_id=movie_id)
        permissions.require(user=request.user, action=permissions.EXPORT, subject=movie)
        data = MovieExportInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        export = services.export_request_for_movie(
            movie=movie, kind=data.validated_data["kind"], scene_type=_scene_type(data.validated_data["scene_type"]),
            title_cards=data.validated_data["title_cards"], user=request.user,
        )
        return _answer(export, status=202)


class ExportListCreateApi(APIView):
    @extend_schema(parameters=[OpenApiParameter("page", {"type": "integer", "minimum": 1}, description=PAGE_FROM_1)],
                   responses={200: paginated("PaginatedExportList", ExportOutputSerializer()), **ERRORS})
    def get(self, request):
        paginator = PagesFromOne()
        page = paginator.paginate_queryset(selectors.export_list(user=request.user), request, view=self)
        runs = selectors.export_runs(export_ids=[e.pk for e in page])
        return paginator.get_paginated_response([export_output(e, runs.get(e.pk)) for e in page])

    @extend_schema(request=SearchExportInputSerializer, responses={202: ExportOutputSerializer, **REQUEST_ERRORS})
    def post(self, request):
        permissions.require(user=request.user, action=permissions.CREATE, subject="export")
        data = SearchExportInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        values.pop("kind")
        options = {name: values.pop(name, None) for name in ("max_scenes", "max_minutes", "title_cards")}
        filters = {key: value for key, value in values.items() if value not in (None, "")}
        if "movie" in filters:
            filters["movie_id"] = filters.pop("movie")
        export = services.export_request_from_search(
            filters=filters, user=request.user, max_scenes=options["max_scenes"], max_minutes=options["max_minutes"],
            title_cards=bool(options["title_cards"]),
        )
        return _answer(export, status=202)


class ExportDetailApi(APIView):
    @extend_schema(responses={200: ExportOutputSerializer, **ERRORS})
    def get(self, request, export_id: int):
        export = selectors.export_get(export_id=export_id)
        permissions.require(user=request.user, action=permissions.READ, subject=export)
        return _answer(export)

    @extend_schema(responses={204: None, **ERRORS})
    def delete(self, request, export_id: int):
        export = selectors.export_get(export_id=export_id)
        services.export_delete(export=export, user=request.user)
        return Response(status=204)


class ExportDownloadApi(APIView):
    content_negotiation_class = JsonNegotiation

    @extend_schema(
        parameters=RANGE_HEADERS,
        responses={**ranged_file_responses("video/mp4", "image/png"), **ERRORS},
    )
    def get(self, request, export_id: int):
        export = selectors.export_get(export_id=export_id)
        permissions.require(user=request.user, action=permissions.READ, subject=export)
        path = Path(settings.MEDIA_ROOT) / export.file if export.file else None
        if path is None or not path.is_file():
            raise errors.Conflict("This export is not ready yet; its download appears when its status is 'succeeded'.",
                                  code="export_not_ready")
        response = ranged_file_response(
            path=path, relative_name=export.file, range_header=request.META.get("HTTP_RANGE"),
            content_type=CONTENT_TYPES.get(path.suffix, "application/octet-stream"), cache_control="private, no-cache",
        )
        response["Content-Disposition"] = attachment_disposition(name=download_name(export),
                                                                 ascii_name=download_name(export, ascii_only=True))
        return response


# --- the player's source: the film, or the copy browsers can play ------------------------------------------------


class PlayableCopyOutputSerializer(serializers.Serializer):
    movie = serializers.IntegerField()
    source_plays = serializers.BooleanField(help_text="Browsers play the film's own file; no copy is needed.")
    reason = serializers.CharField(allow_blank=True, help_text="Why browsers cannot play the film's own file.")
    status = serializers.ChoiceField(choices=["not_needed", "queued", "running", "ready", "failed", "cancelled"])
    progress = serializers.FloatField()
    eta_s = serializers.FloatField(allow_null=True)
    stage = serializers.CharField(allow_blank=True)
    error = serializers.CharField(allow_blank=True, help_text="Why the copy could not be made (no server paths).")
    run = serializers.IntegerField(allow_null=True, help_text="The run making the copy: /api/runs/{id}/.")
    size_bytes = serializers.IntegerField(allow_null=True)
    playback_url = serializers.CharField(help_text="Plays the film's own file, or its copy once that is ready.")


def _movie_with_verdict(request, movie_id: int):
    movie = library_selectors.movie_get(movie_id=movie_id)
    permissions.require(user=request.user, action=permissions.READ, subject=movie)
    copy = playable.playable_copy_ensure(movie=movie, user=request.user)
    if copy is None:
        raise errors.NotFound(f"'{movie.title}' has no video file yet (it is {movie.status}).")
    return movie, copy


class MoviePlayableCopyApi(APIView):
    @extend_schema(
        responses={200: PlayableCopyOutputSerializer, **ERRORS},
        summary="Whether browsers play the film as stored; if not, the copy they can play (queued on first ask).",
    )
    def get(self, request, movie_id: int):
        movie, copy = _movie_with_verdict(request, movie_id)
        return Response(selectors.playable_copy_output(movie=movie, copy=copy))


class MoviePlaybackApi(APIView):
    content_negotiation_class = JsonNegotiation

    @extend_schema(
        parameters=RANGE_HEADERS,
        responses={**ranged_file_responses("video/*"), **ERRORS},
        summary="What the player plays: the film's own file when browsers play it, else its playable copy (409 while "
                "that is being made).",
    )
    def get(self, request, movie_id: int):
        movie, copy = _movie_with_verdict(request, movie_id)
        if copy.source_plays:
            name, content_type = movie.file.name, None
        elif copy.file:
            name, content_type = copy.file, "video/mp4"
        else:
            status = selectors.playable_copy_output(movie=movie, copy=copy)
            if status["status"] in ("failed", "cancelled"):
                raise errors.Conflict(
                    f"Browsers cannot play '{movie.title}' as it is stored ({copy.reason}), and a copy they can play "
                    f"could not be made: {status['error'] or 'it was cancelled.'}", code="playable_copy_failed",
                    extra={"playable_copy": status})
            raise errors.Conflict(
                f"Browsers cannot play '{movie.title}' as it is stored ({copy.reason}); a copy they can play is being "
                "made and plays here once it is ready.", code="playable_copy_pending", extra={"playable_copy": status})
        path = Path(settings.MEDIA_ROOT) / name
        if not path.is_file():
            raise errors.NotFound(f"The video file of '{movie.title}' is missing from the server's media folder.")
        return ranged_file_response(path=path, relative_name=name, range_header=request.META.get("HTTP_RANGE"),
                                    if_range=request.META.get("HTTP_IF_RANGE"), content_type=content_type)
