"""Benchmarks' own databases, on the server DATABASE_URL points at (the local Postgres when it is unset)."""

from __future__ import annotations

import os

import psycopg2
from psycopg2 import sql

from kissweb.dbresolve import ensure_database, url_with_database

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/kissweb"


def _admin_url() -> str:
    return url_with_database(os.environ.get("DATABASE_URL", DEFAULT_URL), "postgres")


def database_drop(name: str) -> None:
    conn = psycopg2.connect(_admin_url())
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    finally:
        conn.close()


def database_ensure(name: str) -> str:
    """URL of database `name`, created if missing (kept between runs)."""
    ensure_database(_admin_url(), name)
    return url_with_database(_admin_url(), name)


def database_recreate(name: str) -> str:
    """URL of an empty database `name` (dropped first if it was there)."""
    database_drop(name)
    return database_ensure(name)
