"""The API's one error vocabulary: domain errors that services raise, and the one handler that maps them to HTTP.

How to use it
-------------
Services (and selectors) raise a `DomainError` subclass with a sentence a person can act on; they never build
responses and never raise DRF exceptions::

    from kissweb import errors

    raise errors.Invalid("The segment must end after it starts.", fields={"end_s": "must be after start_s"})
    raise errors.Conflict(f"'{movie.title}' is already being analysed.", code="analysis_active",
                          extra={"analysis": active.pk})
    raise errors.NotFound(f"There is no scene type '{slug}'.")

Views just let them propagate. `exception_handler` (settings.REST_FRAMEWORK["EXCEPTION_HANDLER"]) turns every
error, whether a domain error, a DRF exception (serializer validation, authentication, throttling), Django's
`ValidationError`/`PermissionDenied`/`Http404` or a database `IntegrityError`/`DataError`, into one JSON shape::

    {"detail": "one sentence", "code": "machine_readable", "errors": {"field": ["message", ...]}}

`errors` is always there (empty when no single field is at fault); nested fields are joined with dots
("skip.kissing"). A domain error's `extra` adds keys next to these three (e.g. the existing movie of a
duplicate upload). Responses of the middleware and of plain Django views under /api/ use the same shape
(`json_error`, `handler404`, `handler500`).

In the OpenAPI schema, `ErrorSerializer` is the shape and `error_responses(400, 404, ...)` documents a view's
error statuses (kissweb.schema adds the ones every endpoint can give).
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf
from rest_framework import serializers
from rest_framework.response import Response

log = logging.getLogger(__name__)


class DomainError(Exception):
    """A refusal a service decided on. `detail` is the sentence shown to people; `code` is for programs.

    `fields` names the input at fault (field -> message or messages); `extra` adds JSON keys to the response.
    Subclasses fix the HTTP status; pick the one that says what went wrong, not what the client should do.
    """

    status_code = 400
    default_code = "invalid"

    def __init__(
        self, detail: str, *, code: str | None = None, fields: Mapping[str, str | list[str]] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code or self.default_code
        self.fields = {name: [m] if isinstance(m, str) else list(m) for name, m in (fields or {}).items()}
        self.extra = dict(extra or {})


class Invalid(DomainError):
    """400: the request's values cannot be used (out of range, unknown name, breaks a rule)."""


class NotAllowed(DomainError):
    """403: the person is signed in but the permission policy (kissweb.permissions) says no."""

    status_code, default_code = 403, "permission_denied"


class NotFound(DomainError):
    """404: no such object (or it was deleted)."""

    status_code, default_code = 404, "not_found"


class Conflict(DomainError):
    """409: refused because of the current state (a duplicate, work already running)."""

    status_code, default_code = 409, "conflict"


class TooLarge(DomainError):
    """413: the request body or file is larger than this server accepts."""

    status_code, default_code = 413, "too_large"


class UnsupportedMedia(DomainError):
    """415: the file is not of a kind this server can use at all."""

    status_code, default_code = 415, "unsupported_media"


class Unprocessable(DomainError):
    """422: well-formed, but its content cannot be used (a broken video, too few labels to train)."""

    status_code, default_code = 422, "unprocessable"


class TooMany(DomainError):
    """429: the person has as much going on as one person may (a quota); `retry_after_s` becomes `Retry-After`."""

    status_code, default_code = 429, "too_many"

    def __init__(self, detail: str, *, retry_after_s: float, **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.retry_after_s = max(1, int(-(-retry_after_s // 1)))


class StorageFull(DomainError):
    """507: the server's disk is full; nothing was kept."""

    status_code, default_code = 507, "storage_full"


# --- no server paths in what people read ------------------------------------------------------------------

# Where the server's own files live; an absolute path under one of these never reaches a person.
_SYSTEM_ROOTS = ("/tmp", "/var", "/home", "/root", "/data", "/srv", "/opt", "/usr", "/mnt", "/media", "/run", "/dev",
                 "/proc", "/etc", "/private", "/Users")
_PATH_CHARS = r"[^\s'\"()<>,;:]"


def _path_pattern() -> re.Pattern:
    roots = {*_SYSTEM_ROOTS, str(Path(settings.MEDIA_ROOT)), str(getattr(settings, "DATA_DIR", "")),
             str(settings.BASE_DIR), tempfile.gettempdir()}
    alternatives = "|".join(sorted((re.escape(r.rstrip("/")) for r in roots if r and r != "/"), key=len, reverse=True))
    return re.compile(rf"(?<![\w./])(?:{alternatives})(?:/{_PATH_CHARS}*)*")


_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")


def url_for_people(url: str) -> str:
    """url as others may read it: without a user name or password, query string or fragment, which is where links
    carry their secrets (`?access_token=...`); "?…" says that a query was there."""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed IPv6 bracket: nothing of it is safe to show
        return url.split("://", 1)[0] + "://…"
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, "", "")) + ("?…" if parts.query else "")


def without_secrets(text: str) -> str:
    """`text` with every URL in it as `url_for_people` shows it."""
    if not text or "://" not in text:
        return text
    return _URL.sub(lambda match: url_for_people(match.group(0)), text)


def without_paths(text: str, *, movie_title: str | Callable[[], str] | None = None) -> str:
    """`text` for people, with every absolute server path taken out: a movie's video file becomes the movie's
    title (when given; a callable is asked only when there is a path), any other path "a file on the server".
    The path itself belongs in the server log, written where the error is made (`exception_handler` logs what it
    removes from API errors). URLs lose their query strings and user info on the way (`without_secrets`): what
    one person added from a link is read by everyone."""
    text = without_secrets(text)
    if not text or "/" not in text:
        return text
    movies = str(Path(settings.MEDIA_ROOT) / "movies") + "/"
    titles: list[str] = []

    def replace(match: re.Match) -> str:
        path = match.group(0).rstrip(".")
        tail = match.group(0)[len(path):]
        if movie_title and path.startswith(movies):
            if not titles:
                titles.append(movie_title() if callable(movie_title) else movie_title)
            return f"'{titles[0]}'{tail}"
        return f"a file on the server{tail}"

    return _path_pattern().sub(replace, text)


class PublicTextField(serializers.CharField):
    """A stored message (an `error` column) as people may read it: without server paths. `movie_title`: the dotted
    attribute of the object that names its movie, shown instead of the movie's video path."""

    def __init__(self, *, movie_title: str | None = None, **kwargs) -> None:
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)
        self.movie_title = movie_title

    def to_representation(self, value) -> str:
        return str(value)

    def get_attribute(self, instance):
        text = super().get_attribute(instance) or ""

        def title() -> str:
            obj = instance
            for name in self.movie_title.split("."):
                obj = getattr(obj, name)
            return str(obj)

        return without_paths(text, movie_title=title if self.movie_title else None)


def _without_paths_in(body: dict) -> dict:
    cleaned = dict(body)
    cleaned["detail"] = without_paths(body["detail"])
    cleaned["errors"] = {name: [without_paths(m) for m in messages] for name, messages in body["errors"].items()}
    if cleaned["detail"] != body["detail"] or cleaned["errors"] != body["errors"]:
        log.warning("server paths removed from an API error: %s %s", body["detail"], body["errors"])
    return cleaned


# --- the one JSON shape -------------------------------------------------------------------------------------


def _flatten(errors: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail -> {"field.sub": [messages]}."""
    if isinstance(errors, Mapping):
        out: dict[str, list[str]] = {}
        for key, value in errors.items():
            out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(errors, (list, tuple)):
        if all(isinstance(item, str) for item in errors):
            return {prefix: [str(item) for item in errors]} if errors else {}
        out = {}
        for index, value in enumerate(errors):
            if isinstance(value, str):
                out.setdefault(prefix, []).append(str(value))
            else:
                out.update(_flatten(value, f"{prefix}.{index}" if prefix else str(index)))
        return out
    return {prefix: [str(errors)]}


def _first_code(codes: Any, default: str) -> str:
    if isinstance(codes, str):
        return codes
    if isinstance(codes, Mapping):
        for value in codes.values():
            return _first_code(value, default)
    if isinstance(codes, (list, tuple)) and codes:
        return _first_code(codes[0], default)
    return default


def error_body(detail: str, *, code: str, fields: Mapping[str, list[str]] | None = None,
               extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {**(extra or {}), "detail": detail, "code": code, "errors": dict(fields or {})}


def _detail_from_fields(fields: dict[str, list[str]]) -> str:
    for name in ("detail", "non_field_errors"):
        if fields.get(name):
            return fields[name][0]
    for name, messages in fields.items():
        if messages:
            return f"{name}: {messages[0]}"
    return "The request could not be accepted."


def _from_drf(exc: drf.APIException) -> tuple[str, str, dict[str, list[str]]]:
    if isinstance(exc.detail, (Mapping, list)):
        fields = _flatten(exc.detail)
        detail = _detail_from_fields(fields)
        fields = {k: v for k, v in fields.items() if k not in ("detail", "non_field_errors", "")}
        code = "invalid" if isinstance(exc, drf.ValidationError) else _first_code(exc.get_codes(), exc.default_code)
        return detail, code, fields
    return str(exc.detail), _first_code(exc.get_codes(), exc.default_code), {}


def _translate(exc: Exception) -> Exception:
    """Django's and the database's exceptions -> the DomainError or DRF exception that says the same."""
    if isinstance(exc, Http404):
        return NotFound("Not found: no such object, or it was deleted.")
    if isinstance(exc, DjangoPermissionDenied):
        return NotAllowed(str(exc) or "You are not allowed to do that.")
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            fields = {name: list(messages) for name, messages in exc.message_dict.items()}
            detail = _detail_from_fields(fields)
            return Invalid(detail, fields={k: v for k, v in fields.items() if k not in ("__all__", "detail")})
        return Invalid(" ".join(exc.messages) or "The request could not be accepted.")
    if isinstance(exc, RequestDataTooBig):
        return TooLarge("The request body is larger than this server accepts for JSON or form data (10 MB); "
                        "send files as multipart uploads.", code="body_too_large")
    if isinstance(exc, IntegrityError):
        log.warning("integrity error reached the API: %s", exc)
        return Conflict("This change conflicts with data already stored (a database rule refused it).")
    if isinstance(exc, DataError):
        log.warning("data error reached the API: %s", exc)
        return Invalid("A value in the request is out of the range the database can store.", code="out_of_range")
    return exc


def exception_handler(exc: Exception, context: Mapping[str, Any] | None = None) -> Response | None:
    """DRF's EXCEPTION_HANDLER: every error as {"detail", "code", "errors"} with the right status; None (a 500,
    logged by Django) for anything that is not an error of the request."""
    from rest_framework.views import set_rollback

    exc = _translate(exc)
    headers: dict[str, str] = {}
    if isinstance(exc, DomainError):
        body = error_body(exc.detail, code=exc.code, fields=exc.fields, extra=exc.extra)
        status = exc.status_code
        if isinstance(exc, TooMany):
            headers["Retry-After"] = str(exc.retry_after_s)
    elif isinstance(exc, drf.APIException):
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        detail, code, fields = _from_drf(exc)
        wait = getattr(exc, "wait", None)
        if wait is not None:
            headers["Retry-After"] = str(max(1, int(-(-wait // 1))))
            if isinstance(exc, drf.Throttled):
                detail = f"Too many requests; try again in {headers['Retry-After']} s."
        body, status = error_body(detail, code=code, fields=fields), exc.status_code
    else:
        return None
    set_rollback()  # as DRF's own handler: a refused request leaves no half-done transaction behind
    return Response(_without_paths_in(body), status=status, headers=headers)


def json_error(exc: DomainError | drf.APIException, *, headers: Mapping[str, str] | None = None) -> JsonResponse:
    """The same JSON for code outside DRF views (middleware, plain Django views under /api/)."""
    response = exception_handler(exc)
    assert response is not None
    json = JsonResponse(response.data, status=response.status_code)
    for name, value in {**response.headers, **(headers or {})}.items():
        if name.lower() != "content-type":
            json[name] = value
    return json


def handler404(request, exception=None):
    """JSON under /api/, the normal page elsewhere."""
    if request.path.startswith("/api/"):
        return json_error(NotFound("Not found: there is no such API address; see /api/docs/."))
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def handler500(request):
    if request.path.startswith("/api/"):
        return JsonResponse(
            error_body("Internal server error; the details are in the server log.", code="server_error"), status=500
        )
    from django.views.defaults import server_error

    return server_error(request)


def handler400(request, exception=None):
    """Django's bad-request view (e.g. a body over DATA_UPLOAD_MAX_MEMORY_SIZE read outside DRF)."""
    if request.path.startswith("/api/"):
        translated = _translate(exception) if isinstance(exception, Exception) else None
        if not isinstance(translated, (DomainError, drf.APIException)):
            translated = Invalid("The request could not be read; check its body and headers.", code="bad_request")
        return json_error(translated)
    from django.views.defaults import bad_request

    return bad_request(request, exception)


# --- the schema of the shape ---------------------------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="One sentence saying what went wrong and what to do.")
    code = serializers.CharField(help_text="Machine-readable, e.g. invalid, not_found, permission_denied, throttled.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Field (dotted for nested input) -> its messages; empty when no single field is at fault.",
    )


ERROR_DESCRIPTIONS = {
    400: "Invalid input", 401: "Not signed in", 403: "Not allowed", 404: "Not found", 409: "Conflict",
    413: "Too large", 415: "Unsupported media", 422: "Unusable content", 429: "Too many requests",
    507: "Disk full",
}


def error_responses(*statuses: int, serializer=ErrorSerializer) -> dict:
    """{status: OpenApiResponse(ErrorSerializer)} for extend_schema(responses={...}) of a view."""
    from drf_spectacular.utils import OpenApiResponse

    return {code: OpenApiResponse(serializer, description=ERROR_DESCRIPTIONS.get(code, "")) for code in statuses}
