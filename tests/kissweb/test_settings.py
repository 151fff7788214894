"""Deployment checks: production refuses to start without its secrets; check --deploy and migrations are clean."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _manage(*args: str, env_extra: dict[str, str], drop: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    # DJANGO_ALLOW_ASYNC_UNSAFE is set while the browser tests run (Playwright's loop); a deployment must not have it.
    env = {k: v for k, v in os.environ.items() if k not in (*drop, "DJANGO_ALLOW_ASYNC_UNSAFE")}
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )


PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "kissweb.settings.production",
    "DJANGO_SECRET_KEY": "x" * 30 + "-a-long-random-production-secret-key-0123456789",
    "DJANGO_ALLOWED_HOSTS": "kissweb.example.org",
}


def test_check_deploy_passes_with_production_settings():
    security = _manage("check", "--deploy", "--tag", "security", "--fail-level", "WARNING", env_extra=PRODUCTION)
    assert security.returncode == 0, security.stdout + security.stderr
    everything = _manage("check", "--deploy", env_extra=PRODUCTION)
    assert everything.returncode == 0, everything.stdout + everything.stderr


def test_production_fails_loudly_without_secret_key():
    env = dict(PRODUCTION)
    env.pop("DJANGO_SECRET_KEY")
    result = _manage("check", env_extra=env, drop=("DJANGO_SECRET_KEY",))
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is required" in result.stderr


def test_production_fails_loudly_without_allowed_hosts():
    env = dict(PRODUCTION)
    env.pop("DJANGO_ALLOWED_HOSTS")
    result = _manage("check", env_extra=env, drop=("DJANGO_ALLOWED_HOSTS",))
    assert result.returncode != 0
    assert "DJANGO_ALLOWED_HOSTS is required" in result.stderr


def test_sqlite_is_refused():
    result = _manage("check", env_extra={"DATABASE_URL": "sqlite:///tmp/x.db"})
    assert result.returncode != 0
    assert "PostgreSQL only" in result.stderr


def test_migrations_match_models():
    result = _manage("makemigrations", "--check", "--dry-run", env_extra={})
    assert result.returncode == 0, result.stdout + result.stderr
