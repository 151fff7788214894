"""The OpenAPI schema's view of the API: drf-spectacular, plus what every endpoint can answer.

`AutoSchema` documents the error responses each operation can give, in the one error shape (kissweb.errors):
401 (no or bad credentials, with `WWW-Authenticate: Token`) and 403 (signed in, not allowed) unless the view is
open to all, 404 for a path with an id or a paginated list (a page past the last),
400 for anything that takes input (a body or query parameters), 413 for a body (past 10 MB of JSON or the upload
limit), 411 for an upload (chunked, without Content-Length). A view documents what is particular to it (409, 415, 422, 429, ...) with `extend_schema`.
tests/kissweb/test_openapi_responses.py checks real responses against the schema.
"""

from __future__ import annotations

from drf_spectacular import openapi
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny

from kissweb.errors import ErrorSerializer


# A request without (valid) credentials is 401 with this challenge; a signed-in person who may not is 403.
UNAUTHENTICATED_CHALLENGE = {
    "description": "Send `Authorization: Token <token>` (POST /api/auth/token/ gives one) or sign in.",
    "required": True,
    "schema": {"type": "string", "const": "Token"},
}


RANGE_HEADERS = [
    OpenApiParameter("Range", str, OpenApiParameter.HEADER, description="e.g. bytes=0-1023"),
    OpenApiParameter("If-Range", str, OpenApiParameter.HEADER,
                     description="The ETag or Last-Modified of the copy the client has; another gets 200"),
]


def ranged_file_responses(*content_types: str) -> dict:
    """200 and 206 for each content type of a file served with Range (kissweb.library.streaming), and 416."""
    answers = {(status, kind): OpenApiTypes.BINARY for kind in content_types for status in (200, 206)}
    answers[416] = OpenApiResponse(description="Range outside the file; Content-Range: bytes */size")
    return answers


class AutoSchema(openapi.AutoSchema):
    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        responses = operation["responses"]
        for code in self._implied_error_statuses(operation):
            responses.setdefault(str(code), self._get_response_for_code(ErrorSerializer, str(code)))
        if "401" in responses:
            responses["401"].setdefault("headers", {})["WWW-Authenticate"] = UNAUTHENTICATED_CHALLENGE
        return operation

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        # A file sent in a multipart request is bytes; drf-spectacular says `format: uri` (or nothing) unless
        # request and response components are split, which would rename every component.
        if isinstance(field, serializers.FileField) and direction == "request":
            return {"type": "string", "format": "binary"}
        return super()._map_serializer_field(field, direction, bypass_extensions)

    def _implied_error_statuses(self, operation: dict) -> list[int]:
        codes = []
        if not all(isinstance(permission, AllowAny) for permission in self.view.get_permissions()):
            codes += [401, 403]
        query = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        if operation.get("requestBody") or query:
            codes.append(400)
        if "{" in self.path or "page" in query:
            codes.append(404)
        body = operation.get("requestBody", {}).get("content", {})
        if body:
            codes.append(413)
        if "multipart/form-data" in body:
            codes.append(411)  # a chunked upload without Content-Length (kissweb.middleware)
        return codes


def paginated(name: str, item: serializers.Serializer) -> serializers.Serializer:
    """The schema of a page of a list as the list endpoints answer it."""
    return inline_serializer(name, {
        "count": serializers.IntegerField(help_text="Items on all pages."),
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "results": item.__class__(many=True),
    })


def postprocess_nullable(result: dict, generator, request, public) -> dict:  # noqa: ARG001 - the hook's signature
    """OpenAPI 3.1 has no `nullable`; schemas written by hand for 3.0 (DRF's pagination) still say it. Turn each
    into the 3.1 form, so that validators (and clients) read `null` as allowed."""

    def fix(node):
        if isinstance(node, dict):
            if node.pop("nullable", False):
                kind = node.get("type")
                if isinstance(kind, str):
                    node["type"] = [kind, "null"]
                elif isinstance(kind, list) and "null" not in kind:
                    node["type"] = [*kind, "null"]
                elif kind is None:
                    inner = dict(node)
                    node.clear()
                    node["oneOf"] = [inner, {"type": "null"}]
            for value in node.values():
                fix(value)
        elif isinstance(node, list):
            for value in node:
                fix(value)

    fix(result)
    return result
