"""Every API error is JSON with a sentence a person can act on, never an HTML debug page."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied, ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

log = logging.getLogger(__name__)


def _first_message(detail) -> str:
    if isinstance(detail, dict):
        for key, value in detail.items():
            message = _first_message(value)
            return message if key in ("detail", "non_field_errors") else f"{key}: {message}"
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def json_exception_handler(exc, context):
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("Not found: no such object, or it was deleted.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    response = exception_handler(exc, context)
    if response is None:
        if isinstance(exc, IntegrityError):
            log.warning("integrity error reached the API: %s", exc)
            return Response(
                {"detail": "This change conflicts with data already stored (a database rule refused it)."},
                status=status.HTTP_409_CONFLICT,
            )
        return None
    data = response.data
    if isinstance(data, dict) and set(data) == {"detail"}:
        if not isinstance(data["detail"], str):  # e.g. ValidationError({"detail": [...]}) from a service
            response.data = {"detail": _first_message(data["detail"])}
        return response
    response.data = {"detail": _first_message(data), "errors": data}
    return response


def json_404(request, exception=None):  # noqa: ARG001
    return JsonResponse({"detail": "Not found."}, status=404)


def json_500(request):  # noqa: ARG001
    return JsonResponse({"detail": "Internal server error; the details are in the server log."}, status=500)


def handler404(request, exception=None):
    """JSON under /api/, the normal page elsewhere."""
    if request.path.startswith("/api/"):
        return json_404(request, exception)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def handler500(request):
    if request.path.startswith("/api/"):
        return json_500(request)
    from django.views.defaults import server_error

    return server_error(request)
