"""Who is asking: session or token authentication (who may do what is kissweb.permissions)."""

from __future__ import annotations

import functools

from django.contrib.auth import get_user_model
from django.db import connection
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed

from kissweb.library.prepared import execute_prepared


class SessionOrTokenAuthentication(SessionAuthentication):
    """Session auth whose refusals of a request without (valid) credentials are 401 + `WWW-Authenticate: Token`.

    DRF takes the 401-or-403 choice from the first authentication class; with plain session auth first every
    such refusal would be 403, which API clients read as "signed in but not allowed". A signed-in person the
    policy refuses still gets 403 (DRF answers 401 only while no authenticator recognised the request).
    """

    def authenticate_header(self, request):  # noqa: ARG002
        return "Token"


@functools.cache
def _token_user_sql() -> tuple[str, list[str]]:
    User = get_user_model()
    fields = [field.attname for field in User._meta.concrete_fields]
    columns = ", ".join(f"u.{connection.ops.quote_name(name)}" for name in fields)
    sql = (f"SELECT {columns} FROM {User._meta.db_table} u JOIN {Token._meta.db_table} t ON t.user_id = u.id "
           "WHERE t.key = %(key)s")
    return sql, fields


class OneQueryTokenAuthentication(TokenAuthentication):
    """DRF's token check, with the user loaded by one plain query: it runs on every API client request, and the
    ORM spent three times longer building its query than Postgres answering it (see bench/RESULTS-api.md).
    The query is prepared once per connection (a key lookup: its plan never depends on the key)."""

    def authenticate_credentials(self, key):
        sql, fields = _token_user_sql()
        with connection.cursor() as cur:
            execute_prepared(cur, sql, {"key": key})
            row = cur.fetchone()
        if row is None:
            raise AuthenticationFailed("Invalid token.")
        user = get_user_model().from_db(connection.alias, fields, row)
        if not user.is_active:
            raise AuthenticationFailed("User inactive or deleted.")
        return user, Token(key=key, user=user)


def _register_schema_extension() -> None:
    from drf_spectacular.authentication import SessionScheme, TokenScheme

    class SessionOrTokenScheme(SessionScheme):  # noqa: F841 - registers itself with drf-spectacular
        target_class = "kissweb.library.authentication.SessionOrTokenAuthentication"

    class OneQueryTokenScheme(TokenScheme):  # noqa: F841
        target_class = "kissweb.library.authentication.OneQueryTokenAuthentication"


_register_schema_extension()
