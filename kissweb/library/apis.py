"""Thin API views: parse input, call a service or selector, shape the result."""

from __future__ import annotations

from pathlib import Path

import orjson
from django.conf import settings
from django.contrib.auth import authenticate
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers as drf_serializers
from rest_framework.authtoken.models import Token
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import PageNumberPagination, _positive_int
from rest_framework.parsers import FormParser, JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.utils.encoders import JSONEncoder as DRFJSONEncoder
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

from kissweb import errors, permissions
from kissweb.library import selectors, services, url_import
from kissweb.jobs.selectors import runs_active_by_lock
from kissweb.library.models import MovieStatus, SceneType
from kissweb.library import serializers as s
from kissweb.library.streaming import ranged_file_response
from kissweb.library.uploads import HashingLimitedUploadHandler
from kissweb.pagination import PAGE_FROM_1, PagesFromOne
from kissweb.parsers import MultiPartParser
from kissweb.schema import RANGE_HEADERS, paginated, ranged_file_responses

ERRORS = errors.error_responses(400, 401, 403, 404)


class JsonNegotiation(DefaultContentNegotiation):
    """JSON whatever the client accepts: media endpoints answer <video>/<img>/<track> requests (their errors are
    JSON), and the lists have no other renderer, so there is nothing to negotiate."""

    def select_renderer(self, request, renderers, format_suffix=None):
        renderer = renderers[0] if isinstance(renderers[0], JSONRenderer) else JSONRenderer()
        return renderer, "application/json"


class FastJSONRenderer(JSONRenderer):
    """DRF's JSONRenderer written by orjson: 0.04 instead of 0.16 ms for a page of 24 movies. The same bytes
    (compact UTF-8, U+2028/9 escaped; datetimes as DRF writes them, UTC as Z; whatever orjson does not know goes
    through DRF's encoder), except that floats under 1e-4 are written without an exponent (the same number) and
    NaN becomes null where DRF's strict JSON would fail the request. What orjson refuses (integers past 64 bits)
    goes to DRF."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        try:
            rendered = orjson.dumps(data, default=_DRF_JSON.default, option=orjson.OPT_UTC_Z)
        except TypeError:  # orjson.JSONEncodeError is one
            return super().render(data, accepted_media_type, renderer_context)
        # As DRF: JavaScript before ES2019 reads these two as line ends inside strings.
        return rendered.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")


_DRF_JSON = DRFJSONEncoder()


PAGE_PARAMETER = OpenApiParameter("page", {"type": "integer", "minimum": 1}, description="Pages are numbered from 1.")


class ListPagination:
    """DRF's PageNumberPagination as the lists use it (page, page=last, page_size up to 200, 404 "Invalid page.",
    next/previous links), without Django's Paginator: the selectors count and page in one statement."""

    page_query_param, page_size_query_param, max_page_size = "page", "page_size", 200

    def __init__(self, request):
        self.request = request
        self.page_size = api_settings.PAGE_SIZE
        try:
            self.page_size = _positive_int(request.query_params[self.page_size_query_param], strict=True,
                                           cutoff=self.max_page_size)
        except (KeyError, ValueError):
            pass
        raw = request.query_params.get(self.page_query_param) or 1
        self.valid = True
        self.page: int | None = None  # None: the last page, which the selector finds
        if raw not in PageNumberPagination.last_page_strings:
            try:
                self.page = int(raw)
            except (TypeError, ValueError):
                self.page, self.valid = 1, False
            if self.page < 1:
                raise errors.Invalid(PAGE_FROM_1, code="invalid_page", fields={"page": PAGE_FROM_1})
            if self.page * self.page_size > s.PG_BIGINT_MAX:  # its OFFSET would not fit in the database
                message = f"page {raw} is far past the last page; pages are numbered from 1."
                raise errors.Invalid(message, code="invalid_page", fields={"page": message})

    def response(self, result: selectors.ListPage, results: list) -> Response:
        """The page's response, or 404 for a page number that is not a number or past the last page (checked
        after the selector, so that its 400 for bad filters comes first, as with DRF's paginator)."""
        num_pages = max(1, -(-result.count // self.page_size))
        if not self.valid or result.page > num_pages:
            raise errors.NotFound(PageNumberPagination.invalid_page_message, code="invalid_page")
        next_link = previous_link = None
        if result.page < num_pages or result.page > 1:
            url = self.request.build_absolute_uri()
            if result.page < num_pages:
                next_link = replace_query_param(url, self.page_query_param, result.page + 1)
            if result.page == 2:
                previous_link = remove_query_param(url, self.page_query_param)
            elif result.page > 2:
                previous_link = replace_query_param(url, self.page_query_param, result.page - 1)
        return Response({"count": result.count, "next": next_link, "previous": previous_link, "results": results})


def _validated(serializer: drf_serializers.Serializer, data) -> dict:
    """`serializer.is_valid(raise_exception=True)`'s validated data (the same errors), from one shared instance:
    DRF deep-copies every declared field for each new serializer, which cost more than the validation itself."""
    return serializer.run_validation(data)


MOVIE_LIST_FILTERS = s.MovieListFilterSerializer()
SEGMENT_SEARCH_FILTERS = s.SegmentSearchFilterSerializer()
MOVIE_LIST_FILTERS.fields, SEGMENT_SEARCH_FILTERS.fields  # noqa: B018 - bind the fields now, not in two threads


def _scene_type_or_400(slug: str) -> SceneType:
    return selectors.scene_type_get(slug=slug, param="scene_type")


class HealthApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(responses=inline_serializer("Health", {"status": drf_serializers.CharField()}))
    def get(self, request):
        report = selectors.health_read()
        return Response(report, status=200 if report["status"] == "ok" else 503)


class TokenApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(request=s.TokenInputSerializer,
                   responses={200: s.TokenOutputSerializer, **errors.error_responses(400, 413, 429)})
    def post(self, request):
        data = s.TokenInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(request=request._request, **data.validated_data)
        if user is None or not user.is_active:
            raise errors.Invalid("Wrong username or password.", code="invalid_credentials")
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})


# --- movies ---------------------------------------------------------------------------------------------


class MovieListCreateApi(APIView):
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    renderer_classes = [FastJSONRenderer]
    content_negotiation_class = JsonNegotiation

    def initialize_request(self, request, *args, **kwargs):
        # Before anything reads the body (the CSRF check does): stream to disk, hash, enforce the limit.
        if request.method == "POST":
            request.upload_handlers = [HashingLimitedUploadHandler(request)]
        return super().initialize_request(request, *args, **kwargs)

    @extend_schema(
        parameters=[
            s.MovieListFilterSerializer,
            PAGE_PARAMETER, OpenApiParameter("page_size", int),
            OpenApiParameter(
                "ordering", str, enum=list(selectors.MOVIE_ORDERINGS),
                description="-segment_count / -scene_seconds count the chosen scene_type (all types without one).",
            ),
        ],
        responses={200: paginated("PaginatedMovieList", s.MovieOutputSerializer()), **ERRORS},
    )
    def get(self, request):
        filters = _validated(MOVIE_LIST_FILTERS, request.query_params)
        pagination = ListPagination(request)
        result = selectors.movie_page(page=pagination.page, page_size=pagination.page_size, **filters)
        user = request.user
        runs = _active_runs(result.rows)
        return pagination.response(
            result,
            [s.movie_output(row, user=user, scene_types=row["scene_types"], run=runs.get(row["id"])) for row in result.rows],
        )

    @extend_schema(
        request={"multipart/form-data": s.MovieCreateInputSerializer,
                 "application/json": s.MovieFromUrlInputSerializer},
        description="Upload a file (multipart: 201), or add one from a URL (JSON {\"url\", \"title\"}: 202 with the "
                    "movie in status `downloading`; it is fetched in the queue, then analysed like an upload).",
        responses={
            201: s.MovieOutputSerializer, 202: s.MovieOutputSerializer, 409: s.DuplicateMovieErrorSerializer,
            **errors.error_responses(413, 415, 422, 507), **ERRORS,
        },
    )
    def post(self, request):
        if request.content_type.startswith("application/json"):
            return self._from_url(request)
        data = s.MovieCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        movie = services.movie_create(
            uploaded_file=data.validated_data["file"], title=data.validated_data.get("title"),
            year=data.validated_data.get("year"), user=request.user,
        )
        return Response(_movie_detail(movie.pk, request), status=201)

    def _from_url(self, request):
        """JSON {"url", "title"?}: 202 with the movie `downloading`; the download runs in the queue."""
        data = s.MovieFromUrlInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        movie = url_import.movie_request_from_url(
            url=data.validated_data["url"], title=data.validated_data.get("title"), user=request.user,
        )
        return Response(_movie_detail(movie.pk, request), status=202)


def _active_runs(rows: list[dict]) -> dict[int, dict]:
    """Movie id -> progress of its queued or running analysis run, for the busy movies only (no query otherwise)."""
    busy = [row["id"] for row in rows if row["status"] in (MovieStatus.QUEUED, MovieStatus.ANALYZING)]
    runs = runs_active_by_lock(lock_keys=[f"movie:{movie_id}" for movie_id in busy])
    return {movie_id: runs[f"movie:{movie_id}"] for movie_id in busy if f"movie:{movie_id}" in runs}


def _movie_detail(movie_id: int, request) -> dict:
    row = selectors.movie_row(movie_id=movie_id)
    scene_types = selectors.scene_types_with_model_flag()
    totals = selectors.movie_scene_type_totals(movie_ids=[movie_id], scene_types=scene_types)
    return s.movie_output(row, user=request.user, scene_types=totals[movie_id], run=_active_runs([row]).get(movie_id))


class MovieDetailApi(APIView):
    @extend_schema(responses={200: s.MovieOutputSerializer, **ERRORS})
    def get(self, request, movie_id: int):
        return Response(_movie_detail(movie_id, request))

    @extend_schema(request=s.MovieUpdateInputSerializer, responses={200: s.MovieOutputSerializer, **ERRORS})
    def patch(self, request, movie_id: int):
        movie = selectors.movie_get(movie_id=movie_id)
        permissions.require(user=request.user, action=permissions.CHANGE, subject=movie)
        data = s.MovieUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.movie_update(movie=movie, **data.validated_data)
        return Response(_movie_detail(movie_id, request))

    @extend_schema(responses={204: None, **ERRORS})
    def delete(self, request, movie_id: int):
        movie = selectors.movie_get(movie_id=movie_id)
        permissions.require(user=request.user, action=permissions.DELETE, subject=movie)
        services.movie_delete(movie=movie)
        return Response(status=204)


MEDIA_RESPONSES = {(200, "application/octet-stream"): OpenApiTypes.BINARY, **ERRORS}


def _media_path(name: str, *, what: str) -> Path:
    path = Path(settings.MEDIA_ROOT) / name
    if not name or not path.is_file():
        raise errors.NotFound(f"The {what} is missing from the server's media folder; upload the movie again.")
    return path


class MovieStreamApi(APIView):
    content_negotiation_class = JsonNegotiation

    @extend_schema(
        parameters=RANGE_HEADERS,
        responses={**ranged_file_responses("video/*"), **ERRORS},
    )
    def get(self, request, movie_id: int):
        movie = selectors.movie_get(movie_id=movie_id)
        return ranged_file_response(
            path=_media_path(movie.file.name, what="video file"), relative_name=movie.file.name,
            range_header=request.META.get("HTTP_RANGE"), if_range=request.META.get("HTTP_IF_RANGE"),
        )


class MoviePosterApi(APIView):
    content_negotiation_class = JsonNegotiation

    @extend_schema(responses={(200, "image/jpeg"): OpenApiTypes.BINARY, **ERRORS})
    def get(self, request, movie_id: int):
        movie = selectors.movie_get(movie_id=movie_id)
        if not movie.poster:
            raise errors.NotFound("This movie has no poster.")
        return ranged_file_response(
            path=_media_path(movie.poster.name, what="poster"), relative_name=movie.poster.name, range_header=None,
            content_type="image/jpeg", cache_control="private, max-age=86400",
        )


class MovieThumbnailApi(APIView):
    content_negotiation_class = JsonNegotiation

    @extend_schema(
        parameters=[OpenApiParameter("t", float, required=True, description="Seconds into the movie")],
        responses={(200, "image/jpeg"): OpenApiTypes.BINARY, 422: s.ErrorSerializer, **ERRORS},
    )
    def get(self, request, movie_id: int):
        movie = selectors.movie_get(movie_id=movie_id)
        t = drf_serializers.FloatField(min_value=0).run_validation(request.query_params.get("t", ""))
        path = services.thumbnail_ensure(movie=movie, at_s=t)
        media_root = Path(settings.MEDIA_ROOT)
        return ranged_file_response(
            path=path, relative_name=str(path.relative_to(media_root)), range_header=None,
            content_type="image/jpeg", cache_control="private, max-age=86400",
        )


class MovieChaptersApi(APIView):
    content_negotiation_class = JsonNegotiation

    @extend_schema(responses={(200, "text/vtt"): OpenApiTypes.STR, **ERRORS})
    def get(self, request, movie_id: int):
        movie = selectors.movie_get(movie_id=movie_id)
        response = HttpResponse(selectors.movie_chapters_vtt(movie=movie), content_type="text/vtt; charset=utf-8")
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, no-cache"
        return response


# --- segments -------------------------------------------------------------------------------------------


class MovieSegmentsApi(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("scene_type", str)],
        responses={200: s.SegmentOutputSerializer(many=True), **ERRORS},
    )
    def get(self, request, movie_id: int):
        movie = selectors.movie_get(movie_id=movie_id)
        rows = selectors.segment_list(movie=movie, scene_type=request.query_params.get("scene_type") or None)
        user = request.user
        return Response([s.segment_output(row, user=user) for row in rows])

    @extend_schema(request=s.SegmentCreateInputSerializer,
                   responses={201: s.SegmentOutputSerializer, **ERRORS, **errors.error_responses(409)})
    def post(self, request, movie_id: int):
        movie = selectors.movie_get(movie_id=movie_id)
        permissions.require(user=request.user, action=permissions.CHANGE, subject=movie)  # before the input's 400
        data = s.SegmentCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        segment = services.segment_create(
            movie=movie, scene_type=_scene_type_or_400(data.validated_data["scene_type"]),
            start_s=data.validated_data["start_s"], end_s=data.validated_data["end_s"], user=request.user,
        )
        return Response(s.segment_instance_output(selectors.segment_get(segment_id=segment.pk), user=request.user),
                        status=201)


class SegmentSearchApi(APIView):
    renderer_classes = [FastJSONRenderer]
    content_negotiation_class = JsonNegotiation

    @extend_schema(
        parameters=[
            s.SegmentSearchFilterSerializer, PAGE_PARAMETER, OpenApiParameter("page_size", int),
            OpenApiParameter("ordering", str, enum=list(selectors.SEGMENT_ORDERINGS)),
        ],
        responses={200: paginated("PaginatedSegmentList", s.SegmentOutputSerializer()), **ERRORS},
    )
    def get(self, request):
        params = dict(_validated(SEGMENT_SEARCH_FILTERS, request.query_params))
        params["movie_id"] = params.pop("movie", None)
        pagination = ListPagination(request)
        result = selectors.segment_page(page=pagination.page, page_size=pagination.page_size, **params)
        user = request.user
        return pagination.response(result, [s.segment_output(row, user=user) for row in result.rows])


class SegmentDetailApi(APIView):
    @extend_schema(responses={200: s.SegmentOutputSerializer, **ERRORS})
    def get(self, request, segment_id: int):
        return Response(s.segment_instance_output(selectors.segment_get(segment_id=segment_id), user=request.user))

    @extend_schema(request=s.SegmentUpdateInputSerializer, responses={200: s.SegmentOutputSerializer, **ERRORS})
    def patch(self, request, segment_id: int):
        segment = selectors.segment_get(segment_id=segment_id)
        permissions.require(user=request.user, action=permissions.CHANGE, subject=segment)
        data = s.SegmentUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.segment_update(segment=segment, user=request.user, **data.validated_data)
        return Response(s.segment_instance_output(selectors.segment_get(segment_id=segment_id), user=request.user))

    @extend_schema(responses={204: None, **ERRORS})
    def delete(self, request, segment_id: int):
        services.segment_delete(segment=selectors.segment_get(segment_id=segment_id), user=request.user)
        return Response(status=204)


class SegmentReviewApi(APIView):
    @extend_schema(request=s.ReviewInputSerializer,
                   responses={201: s.AnnotationOutputSerializer, **ERRORS, **errors.error_responses(409)})
    def post(self, request, segment_id: int):
        segment = selectors.segment_get(segment_id=segment_id)
        data = s.ReviewInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        annotation = services.segment_review(segment=segment, verdict=data.validated_data["verdict"], user=request.user)
        annotation = selectors.annotation_get(annotation_id=annotation.pk)
        return Response(s.AnnotationOutputSerializer(annotation, context={"request": request}).data, status=201)


# --- scene types ----------------------------------------------------------------------------------------


def _scene_type_output(scene_type) -> dict:
    active = getattr(scene_type, "active_model", None)
    return {
        "id": scene_type.pk, "slug": scene_type.slug, "name": scene_type.name, "description": scene_type.description,
        "cut": scene_type.cut, "min_frames": scene_type.min_frames, "threshold": scene_type.threshold,
        "created_at": scene_type.created_at,
        "active_model": None if active is None else {
            "id": active.pk, "name": active.name, "backbone_set": active.backbone_set, "created_at": active.created_at,
        },
    }


def _scene_type_detail(slug: str) -> dict:
    for scene_type in selectors.scene_type_list():
        if scene_type.slug == slug:
            return _scene_type_output(scene_type)
    raise selectors.unknown_scene_type(slug)


class SceneDefaultsApi(APIView):
    @extend_schema(responses={200: s.SceneDefaultsOutputSerializer, **ERRORS})
    def get(self, request):
        return Response(selectors.scene_defaults())


class SceneTypeListCreateApi(APIView):
    permission_classes = [permissions.ReadOr(permissions.CREATE, "scene_type")]

    @extend_schema(responses={200: s.SceneTypeOutputSerializer(many=True), **ERRORS})
    def get(self, request):
        return Response([_scene_type_output(st) for st in selectors.scene_type_list()])

    @extend_schema(request=s.SceneTypeCreateInputSerializer,
                   responses={201: s.SceneTypeOutputSerializer, **ERRORS, **errors.error_responses(409)})
    def post(self, request):
        data = s.SceneTypeCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        scene_type = services.scene_type_create(user=request.user, **data.validated_data)
        return Response(_scene_type_detail(scene_type.slug), status=201)


class SceneTypeDetailApi(APIView):
    permission_classes = [permissions.ReadOr(permissions.CHANGE, "scene_type")]

    @extend_schema(responses={200: s.SceneTypeOutputSerializer, **ERRORS})
    def get(self, request, slug: str):
        return Response(_scene_type_detail(slug))

    @extend_schema(request=s.SceneTypeUpdateInputSerializer, responses={200: s.SceneTypeOutputSerializer, **ERRORS})
    def patch(self, request, slug: str):
        scene_type = selectors.scene_type_get(slug=slug)
        data = s.SceneTypeUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.scene_type_update(scene_type=scene_type, user=request.user, **data.validated_data)
        return Response(_scene_type_detail(slug))


# --- annotations ----------------------------------------------------------------------------------------


class AnnotationPagination(PagesFromOne):
    page_size, page_size_query_param, max_page_size = 500, "page_size", 1000


class MovieAnnotationsApi(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("scene_type", str), PAGE_PARAMETER,
                    OpenApiParameter("page_size", int, description="At most 1000; 500 when not given.")],
        responses={200: paginated("PaginatedAnnotationList", s.AnnotationOutputSerializer()), **ERRORS},
    )
    def get(self, request, movie_id: int):
        """A movie's labelled spans in time order, a page at a time (a movie holds at most
        KISSWEB_MAX_ANNOTATIONS_PER_MOVIE)."""
        movie = selectors.movie_get(movie_id=movie_id)
        annotations = selectors.annotation_list(movie=movie, scene_type=request.query_params.get("scene_type") or None)
        paginator = AnnotationPagination()
        page = paginator.paginate_queryset(annotations, request, view=self)
        return paginator.get_paginated_response(
            s.AnnotationOutputSerializer(page, many=True, context={"request": request}).data)

    @extend_schema(request=s.AnnotationCreateInputSerializer,
                   responses={201: s.AnnotationOutputSerializer, **ERRORS, **errors.error_responses(409)})
    def post(self, request, movie_id: int):
        movie = selectors.movie_get(movie_id=movie_id)
        data = s.AnnotationCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        values["scene_type"] = _scene_type_or_400(values["scene_type"])
        annotation = services.annotation_create(movie=movie, user=request.user, **values)
        annotation = selectors.annotation_get(annotation_id=annotation.pk)
        return Response(s.AnnotationOutputSerializer(annotation, context={"request": request}).data, status=201)


class AnnotationDetailApi(APIView):
    @extend_schema(responses={200: s.AnnotationOutputSerializer, **ERRORS})
    def get(self, request, annotation_id: int):
        annotation = selectors.annotation_get(annotation_id=annotation_id)
        return Response(s.AnnotationOutputSerializer(annotation, context={"request": request}).data)

    @extend_schema(request=s.AnnotationUpdateInputSerializer, responses={200: s.AnnotationOutputSerializer, **ERRORS})
    def patch(self, request, annotation_id: int):
        annotation = selectors.annotation_get(annotation_id=annotation_id)
        permissions.require(user=request.user, action=permissions.CHANGE, subject=annotation)
        data = s.AnnotationUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        if "scene_type" in values:
            values["scene_type"] = _scene_type_or_400(values["scene_type"])
        services.annotation_update(annotation=annotation, user=request.user, **values)
        annotation = selectors.annotation_get(annotation_id=annotation_id)
        return Response(s.AnnotationOutputSerializer(annotation, context={"request": request}).data)

    @extend_schema(responses={204: None, **ERRORS})
    def delete(self, request, annotation_id: int):
        services.annotation_delete(annotation=selectors.annotation_get(annotation_id=annotation_id), user=request.user)
        return Response(status=204)
