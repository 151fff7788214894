"""Database resolution: configured, local server, or embedded PostgreSQL."""

from __future__ import annotations

import psycopg2
import pytest

from kissweb import dbresolve


def test_configured_url_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgres://someone@db.example:5432/films")
    assert dbresolve.resolve_database_url(data_dir=tmp_path) == ("postgres://someone@db.example:5432/films", "configured")


def test_local_server_is_used_and_database_created(monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    if not dbresolve.server_reachable(dbresolve.LOCAL_SERVER_URL):
        pytest.skip("no local Postgres on 127.0.0.1:5432")
    name = "kissweb_resolve_probe"
    url, where = dbresolve.resolve_database_url(data_dir=tmp_path, db_name=name)
    assert where == "local"
    assert url.endswith("/" + name)
    conn = psycopg2.connect(url)
    conn.close()
    admin = psycopg2.connect(dbresolve.LOCAL_SERVER_URL)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE {name}")
    admin.close()


def test_unreachable_server_is_reported_unreachable():
    assert dbresolve.server_reachable("postgres://postgres@127.0.0.1:1/postgres") is False


@pytest.mark.slow
def test_embedded_server_starts_when_nothing_else_is_there(monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setattr(dbresolve, "LOCAL_SERVER_URL", "postgres://postgres@127.0.0.1:1/postgres")
    url, where = dbresolve.resolve_database_url(data_dir=tmp_path)
    assert where == "embedded"
    assert (tmp_path / "postgres" / "PG_VERSION").exists()
    conn = psycopg2.connect(url)
    with conn.cursor() as cur:
        cur.execute("SELECT current_database(), current_setting('server_version_num')::int")
        db, version = cur.fetchone()
    conn.close()
    assert db == "kissweb"
    assert version >= 160000
