"""Server-side prepared statements with generic plans, for fixed statements that run on every API request (the
list pages, the token check).

Planning the one statement of a library page took as long as running it (about 1 ms each). A statement prepared
once per connection and run with a generic plan skips the planning. Only shapes whose best plan does not depend on
the values may use this: a title search does (a rare word walks the title index, a common one does not), so the
selectors run those as plain statements. Named statements need a session of their own on the server (no
transaction-pooling pgbouncer in front).
"""

from __future__ import annotations

import itertools
import re
from functools import lru_cache

from django.db import DatabaseError, connection

_PARAMETER = re.compile(r"%\((\w+)\)s")
_statement_numbers = itertools.count(1)


@lru_cache(maxsize=256)
def _server_form(sql: str) -> tuple[str, tuple[str, ...]]:
    """`sql` with its %(name)s parameters as $1, $2, ... and the names in that order."""
    names = tuple(dict.fromkeys(_PARAMETER.findall(sql)))
    text = _PARAMETER.sub(lambda match: f"${names.index(match.group(1)) + 1}", sql).replace("%%", "%")
    return text, names


def _statements_of_this_connection() -> dict[str, str]:
    """sql -> prepared statement name, for the server session Django's connection holds now (a new one after a
    reconnect starts with none)."""
    raw = connection.connection
    registry = getattr(connection, "_kissweb_prepared", None)
    if registry is None or registry[0] is not raw:
        registry = connection._kissweb_prepared = (raw, {})
    return registry[1]


def execute_prepared(cursor, sql: str, params: dict) -> None:
    """cursor.execute(sql, params), as a statement prepared on this connection the first time it runs here (in
    the same round trip, so a request sends as many statements either way)."""
    statements = _statements_of_this_connection()
    text, names = _server_form(sql)
    name = statements.get(sql)
    prepare = ""
    if name is None:
        name = f"kissweb_{next(_statement_numbers)}"
        prepare = f"PREPARE {name} AS {text.replace('%', '%%')};\n"
    values = [params[key] for key in names]
    execute = f"EXECUTE {name}({', '.join(['%s'] * len(values))})" if values else f"EXECUTE {name}"
    statements[sql] = name
    try:
        cursor.execute(prepare + execute, values)
    except DatabaseError:
        # Not prepared, gone (DISCARD ALL) or outdated (a migration changed its columns): a new one next time.
        statements.pop(sql, None)
        raise


def use_generic_plans(sender, connection, **kwargs) -> None:
    """connection_created receiver: prepared statements (only ours) and PL/pgSQL use generic plans. Set per session,
    not per transaction, so that a rolled-back transaction cannot take it away from the statements prepared in it."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET plan_cache_mode = force_generic_plan")
