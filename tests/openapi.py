"""Checks a real API response against the OpenAPI schema the app publishes (drf-spectacular, OpenAPI 3.1).

The status must be documented for the operation, the content type must be one documented for it, and a JSON
body must validate against the documented schema (JSON Schema 2020-12, with the schema's components).
"""

from __future__ import annotations

import functools
import json
import re

import jsonschema


@functools.cache
def published_schema() -> dict:
    from drf_spectacular.generators import SchemaGenerator

    # The same document /api/schema/ serves, made once per test session (it does not depend on the request).
    return json.loads(json.dumps(SchemaGenerator().get_schema(request=None, public=True), default=str))


@functools.cache
def _path_patterns() -> list[tuple[re.Pattern, str]]:
    out = []
    for template in published_schema()["paths"]:
        regex = re.escape(template)
        regex = re.sub(r"\\\{[^}]+\\\}", "[^/]+", regex)
        out.append((re.compile(f"^{regex}$"), template))
    return out


def operation_for(method: str, path: str) -> tuple[str, dict]:
    path = path.split("?", 1)[0]
    method = "get" if method.lower() == "head" else method.lower()  # HEAD is GET without the body
    for pattern, template in _path_patterns():
        if pattern.match(path):
            operations = published_schema()["paths"][template]
            assert method in operations, f"{method.upper()} {template} is not in the OpenAPI schema"
            return template, operations[method]
    raise AssertionError(f"{path} matches no path of the OpenAPI schema")


def _media_matches(documented: str, actual: str) -> bool:
    if documented in ("*/*", actual):
        return True
    major, _, minor = documented.partition("/")
    return minor == "*" and actual.startswith(major + "/")


def assert_matches_schema(response, method: str, path: str) -> None:
    """Fail unless `response` (a Django test response) is what the schema documents for METHOD path. An address
    the schema does not have must be a 404 in the one error shape."""
    if not any(pattern.match(path.split("?", 1)[0]) for pattern, _ in _path_patterns()):
        assert response.status_code == 404, f"{method.upper()} {path} is not in the schema but answered {response.status_code}"
        error = json.loads(response.content)
        assert {"detail", "code", "errors"} <= set(error), error
        return
    if response.status_code >= 500:  # a failure of the server: only its shape is promised
        assert {"detail", "code", "errors"} <= set(json.loads(response.content)), response.content[:200]
        return
    template, operation = operation_for(method, path)
    status = str(response.status_code)
    responses = operation["responses"]
    where = f"{method.upper()} {template} -> {status}"
    assert status in responses, f"{where} is not documented (documented: {sorted(responses)})"
    for name, header in responses[status].get("headers", {}).items():
        if header.get("required"):
            assert response.has_header(name), f"{where}: the documented header {name} is missing"
            jsonschema.validate(response[name], header.get("schema", {}))
    documented = responses[status].get("content", {})
    body = getattr(response, "content", b"") if not getattr(response, "streaming", False) else None
    if method.lower() == "head":
        return
    if not documented:
        assert not body, f"{where}: documented without a body, but one came: {body[:200]!r}"
        return
    content_type = response.get("Content-Type", "").split(";")[0].strip()
    media = next((m for m in documented if _media_matches(m, content_type)), None)
    assert media, f"{where}: Content-Type {content_type!r} is not one of {sorted(documented)}"
    if content_type != "application/json":
        return
    schema = documented[media].get("schema")
    if schema is None:
        return
    validator = jsonschema.Draft202012Validator(
        {"allOf": [schema], "components": published_schema().get("components", {})}
    )
    problems = sorted(validator.iter_errors(json.loads(body)), key=lambda e: list(e.absolute_path))
    assert not problems, f"{where}: the body does not match the schema: " + "; ".join(
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in problems[:5]
    )


def check_every_api_response(monkeypatch) -> None:
    """From now on in this test, every response of Django's test client (and DRF's, built on it) from /api/ is
    checked with `assert_matches_schema`."""
    from django.test import Client

    original = Client.request

    def request(self, **environ):
        response = original(self, **environ)
        path = environ.get("PATH_INFO", "")
        if path.startswith("/api/") and not path.startswith(("/api/schema/", "/api/docs/")):
            assert_matches_schema(response, environ["REQUEST_METHOD"], path)
        return response

    monkeypatch.setattr(Client, "request", request)
