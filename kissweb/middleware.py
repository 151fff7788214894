"""Request guards that hold for every page and endpoint."""

from __future__ import annotations

from django.http import HttpResponseBadRequest

from kissweb import errors


class RejectNullBytesMiddleware:
    """A NUL character in a query value or name is refused with a 400 before any view sees it: no column of
    Postgres can hold one (psycopg refuses it with a ValueError, which would be a 500)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.META.get("QUERY_STRING", "") or any(
            "\x00" in key or any("\x00" in value for value in values) for key, values in request.GET.lists()
        ):
            message = "The address contains a null character (%00), which no value here may hold; remove it."
            if request.path.startswith("/api/"):
                return errors.json_error(errors.Invalid(message, code="null_character"))
            return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
