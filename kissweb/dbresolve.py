"""Find the Postgres server Kissweb should use, without Django: configured, local, or embedded.

Order: ``DATABASE_URL`` if set; else a Postgres answering on 127.0.0.1:5432 as user postgres; else an
embedded PostgreSQL (the ``pgserver`` package) started in ``KISSWEB_DATA_DIR/postgres``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
from psycopg2 import sql

log = logging.getLogger(__name__)

LOCAL_SERVER_URL = os.environ.get("KISSWEB_LOCAL_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
DEFAULT_DB_NAME = "kissweb"
CONNECT_TIMEOUT_S = 3


def url_with_database(url: str, name: str) -> str:
    """The same server URL, pointing at database `name`."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def server_reachable(url: str) -> bool:
    try:
        psycopg2.connect(url, connect_timeout=CONNECT_TIMEOUT_S).close()
    except psycopg2.OperationalError:
        return False
    return True


def ensure_database(server_url: str, name: str) -> None:
    """Create database `name` on the server if it does not exist yet."""
    conn = psycopg2.connect(server_url, connect_timeout=CONNECT_TIMEOUT_S)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cur.fetchone() is None:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                log.info("created database %s", name)
    finally:
        conn.close()


_embedded_servers: list = []  # handles keep the server up while this process lives


def start_embedded_server(data_dir: Path) -> str:
    """Start (or join) an embedded PostgreSQL under data_dir/postgres; returns its server URL.

    The server stops when the last process holding a handle exits (pgserver counts handles by pid),
    so `./kiss serve` and a concurrent `./kiss manage` share it safely.
    """
    import pgserver  # imported here: it is only needed when no server is configured or running

    logging.getLogger("pgserver").setLevel(logging.WARNING)  # it logs every pg_ctl call, even at exit

    pgdata = data_dir / "postgres"
    pgdata.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(str(pgdata), cleanup_mode="stop")
    _embedded_servers.append(server)
    return server.get_uri()


def resolve_database_url(*, data_dir: Path, db_name: str = DEFAULT_DB_NAME) -> tuple[str, str]:
    """Return (DATABASE_URL, where) with `where` one of 'configured', 'local', 'embedded'."""
    configured = os.environ.get("DATABASE_URL")
    if configured:
        return configured, "configured"
    if server_reachable(LOCAL_SERVER_URL):
        ensure_database(LOCAL_SERVER_URL, db_name)
        return url_with_database(LOCAL_SERVER_URL, db_name), "local"
    server_url = start_embedded_server(data_dir)
    ensure_database(server_url, db_name)
    return url_with_database(server_url, db_name), "embedded"
