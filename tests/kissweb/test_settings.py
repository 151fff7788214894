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


# --- one secret key for every entry point (issue 12, fault 2) ----------------------------------------------------

PRINT_KEYS = "from django.conf import settings; from django_q.conf import Conf; print(settings.SECRET_KEY, Conf.SECRET_KEY)"


def _entry_point_keys(data_dir: Path) -> dict[str, list[str]]:
    """The key each entry point signs with (Django's, and django-q2's for tasks), with no DJANGO_SECRET_KEY set."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DJANGO_SECRET_KEY", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    env["KISSWEB_DATA_DIR"] = str(data_dir)
    commands = {
        # what `./kiss manage ...` runs (it resolves the database and the key, then calls manage.py)
        "./kiss manage": [sys.executable, "-m", "kissweb.cli", "manage", "shell", "-c", PRINT_KEYS],
        # plain manage.py, which is also how a qcluster worker starts (`manage.py qcluster`)
        "manage.py": [sys.executable, "manage.py", "shell", "-c", PRINT_KEYS],
        # gunicorn loads kissweb.wsgi
        "gunicorn (kissweb.wsgi)": [sys.executable, "-c", f"import kissweb.wsgi; {PRINT_KEYS}"],
    }
    keys = {}
    for name, command in commands.items():
        result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"{name}: {result.stderr[-2000:]}"
        keys[name] = result.stdout.split()[-2:]
    return keys


def test_every_entry_point_signs_with_the_one_key_from_the_data_dir(tmp_path):
    keys = _entry_point_keys(tmp_path)
    stored = (tmp_path / "secret_key").read_text().strip()
    assert len(stored) >= 50 and (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert {name: pair for name, pair in keys.items()} == {name: [stored, stored] for name in keys}


def test_no_public_fallback_key_exists_outside_the_tests():
    sources = [p for p in (REPO / "kissweb").rglob("*.py")] + [REPO / "manage.py", REPO / "docker-compose.yml"]
    hits = [str(p) for p in sources if "insecure" in p.read_text().lower()]
    assert hits == []


def test_processes_racing_for_a_new_key_all_get_the_same_one(tmp_path, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    from kissweb.settings.secret import secret_key

    monkeypatch.delenv("DJANGO_SECRET_KEY", raising=False)
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: secret_key(data_dir=tmp_path / "data"), range(32)))
    assert len(keys) == 1 and list((tmp_path / "data").iterdir()) == [tmp_path / "data" / "secret_key"]
