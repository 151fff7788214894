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


class RejectChunkedBodyMiddleware:
    """A body sent with Transfer-Encoding: chunked and no Content-Length is refused with 411: under WSGI Django
    reads such a body as empty, so an upload would fail as "No file was submitted"."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower() and not request.META.get(
            "CONTENT_LENGTH"
        ):
            error = errors.DomainError(
                "Chunked uploads are not supported: send the request with a Content-Length header (browsers and "
                "`curl -F file=@movie.mp4` do; drop `-H 'Transfer-Encoding: chunked'`).",
                code="length_required",
            )
            response = errors.json_error(error)
            response.status_code = 411
            return response
        return self.get_response(request)


class SecurityHeadersMiddleware:
    """Content-Security-Policy and Permissions-Policy on every response (settings.KISSWEB_CONTENT_SECURITY_POLICY,
    KISSWEB_PERMISSIONS_POLICY). The frontend keeps every script and style in static files, so the policy needs no
    'unsafe-inline' (tests/e2e/test_csp.py counts violations in Chromium as failures)."""

    def __init__(self, get_response):
        from django.conf import settings

        self.get_response = get_response
        self.headers = {
            "Content-Security-Policy": settings.KISSWEB_CONTENT_SECURITY_POLICY,
            "Permissions-Policy": settings.KISSWEB_PERMISSIONS_POLICY,
        }

    def __call__(self, request):
        response = self.get_response(request)
        for name, value in self.headers.items():
            if value and name not in response:
                response[name] = value
        return response
