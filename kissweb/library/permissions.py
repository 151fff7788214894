"""Who may do what. Reading needs a login; changing a movie needs its uploader or staff (checked in services)."""

from __future__ import annotations

from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import SAFE_METHODS, BasePermission


class SessionOrTokenAuthentication(SessionAuthentication):
    """Session auth that answers 401 + `WWW-Authenticate: Token` to clients that sent an Authorization header.

    DRF takes the 401-or-403 choice from the first authentication class; with session auth first every
    failure would be 403, which tells a token client nothing about its token.
    """

    def authenticate_header(self, request):
        return "Token" if request.META.get("HTTP_AUTHORIZATION") else None


class IsStaffOrReadOnly(BasePermission):
    message = "Only staff can change this."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return request.method in SAFE_METHODS or user.is_staff


def _register_schema_extension() -> None:
    from drf_spectacular.authentication import SessionScheme

    class SessionOrTokenScheme(SessionScheme):  # noqa: F841 - registers itself with drf-spectacular
        target_class = "kissweb.library.permissions.SessionOrTokenAuthentication"


_register_schema_extension()
