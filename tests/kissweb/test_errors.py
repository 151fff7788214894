"""The one error shape: every kind of error becomes {"detail", "code", "errors"} with its status."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError
from django.http import Http404
from rest_framework import exceptions as drf

from kissweb import errors


def handled(exc):
    response = errors.exception_handler(exc, {})
    return response.status_code, response.data, response


def test_a_domain_error_carries_its_status_code_fields_and_extra():
    status, body, _ = handled(errors.Conflict("Already there.", code="duplicate", fields={"file": "same bytes"},
                                              extra={"movie": {"id": 3}}))
    assert status == 409
    assert body == {"detail": "Already there.", "code": "duplicate", "errors": {"file": ["same bytes"]},
                    "movie": {"id": 3}}


@pytest.mark.parametrize(("exc", "status", "code"), [
    (errors.Invalid("x"), 400, "invalid"), (errors.NotAllowed("x"), 403, "permission_denied"),
    (errors.NotFound("x"), 404, "not_found"), (errors.TooLarge("x"), 413, "too_large"),
    (errors.UnsupportedMedia("x"), 415, "unsupported_media"), (errors.Unprocessable("x"), 422, "unprocessable"),
    (errors.StorageFull("x"), 507, "storage_full"),
    (Http404(), 404, "not_found"), (PermissionDenied(), 403, "permission_denied"),
    (IntegrityError("dup"), 409, "conflict"), (DataError("integer out of range"), 400, "out_of_range"),
    (drf.NotAuthenticated(), 401, "not_authenticated"), (drf.MethodNotAllowed("PUT"), 405, "method_not_allowed"),
])
def test_every_kind_of_error_has_the_one_shape(exc, status, code):
    got_status, body, _ = handled(exc)
    assert (got_status, body["code"]) == (status, code)
    assert set(body) == {"detail", "code", "errors"} and isinstance(body["detail"], str) and body["detail"]


def test_nested_field_errors_are_flattened_with_dots_and_the_first_becomes_the_detail():
    status, body, _ = handled(drf.ValidationError({"skip": {"kissing": ["Not a mode."]}, "limit": ["Too big."]}))
    assert status == 400 and body["code"] == "invalid"
    assert body["errors"] == {"skip.kissing": ["Not a mode."], "limit": ["Too big."]}
    assert body["detail"] == "skip.kissing: Not a mode."


def test_non_field_errors_are_the_detail_not_a_field():
    _, body, _ = handled(drf.ValidationError({"non_field_errors": ["Start before end."]}))
    assert body["detail"] == "Start before end." and body["errors"] == {}


def test_django_validation_errors_keep_their_fields():
    status, body, _ = handled(DjangoValidationError({"title": ["Empty."]}))
    assert status == 400 and body["errors"] == {"title": ["Empty."]} and body["detail"] == "title: Empty."
    _, plain, _ = handled(DjangoValidationError("No such scene type."))
    assert plain["detail"] == "No such scene type." and plain["errors"] == {}


def test_throttled_says_when_to_come_back_and_sets_retry_after():
    status, body, response = handled(drf.Throttled(wait=12.2))
    assert status == 429 and response["Retry-After"] == "13" and "13 s" in body["detail"]
    assert body["code"] == "throttled"


def test_what_is_not_an_error_of_the_request_stays_a_500():
    assert errors.exception_handler(RuntimeError("bug"), {}) is None
