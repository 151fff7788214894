"""Who may do what. Reading needs a login; changing a movie needs its uploader or staff (checked in services)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import SAFE_METHODS, BasePermission


class SessionOrTokenAuthentication(SessionAuthentication):
    """Session auth that answers 401 + `WWW-Authenticate: Token` to clients that sent an Authorization header.

    DRF takes the 401-or-403 choice from the first authentication class; with session auth first every
    failure would be 403, which tells a token client nothing about its token.
    """

    def authenticate_header(self, request):
        return "Token" if request.META.get("HTTP_AUTHORIZATION") else None


class OneQueryTokenAuthentication(TokenAuthentication):
    """DRF's token check, with the user loaded by one plain query: it runs on every API client request, and the
    ORM spent three times longer building its query than Postgres answering it (see bench/RESULTS-api.md)."""

    def authenticate_credentials(self, key):
        User = get_user_model()
        users = list(User.objects.raw(
            f"SELECT u.* FROM {User._meta.db_table} u JOIN {Token._meta.db_table} t ON t.user_id = u.id "
            "WHERE t.key = %s",
            [key],
        ))
        if not users:
            raise AuthenticationFailed("Invalid token.")
        if not users[0].is_active:
            raise AuthenticationFailed("User inactive or deleted.")
        return users[0], Token(key=key, user=users[0])


class IsStaffOrReadOnly(BasePermission):
    message = "Only staff can change this."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return request.method in SAFE_METHODS or user.is_staff


def _register_schema_extension() -> None:
    from drf_spectacular.authentication import SessionScheme, TokenScheme

    class SessionOrTokenScheme(SessionScheme):  # noqa: F841 - registers itself with drf-spectacular
        target_class = "kissweb.library.permissions.SessionOrTokenAuthentication"

    class OneQueryTokenScheme(TokenScheme):  # noqa: F841
        target_class = "kissweb.library.permissions.OneQueryTokenAuthentication"


_register_schema_extension()
