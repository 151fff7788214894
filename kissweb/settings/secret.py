"""The one place the secret key comes from, for every entry point (./kiss, manage.py, gunicorn, qcluster).

DJANGO_SECRET_KEY when set (production, docker-compose); otherwise the key kept in KISSWEB_DATA_DIR/secret_key,
made once by whichever process needs it first. There is no built-in fallback key: a key everyone can read would let
anyone sign sessions and tasks, and two processes with different keys cannot read each other's tasks.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

KEY_FILE_NAME = "secret_key"


def _read(path: Path) -> str:
    key = path.read_text().strip()
    if not key:
        raise ValueError(f"{path} is empty; delete it and start again to make a new key (sessions are logged out).")
    return key


def secret_key(*, data_dir: Path) -> str:
    """The secret key for this installation; creates data_dir/secret_key (owner-only) on first use."""
    configured = os.environ.get("DJANGO_SECRET_KEY")
    if configured:
        return configured
    path = Path(data_dir) / KEY_FILE_NAME
    if path.exists():
        return _read(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{KEY_FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secrets.token_urlsafe(50))
    try:
        os.link(partial, path)  # appears whole, and only once: a process that loses the race reads the winner's key
    except FileExistsError:
        pass
    finally:
        partial.unlink(missing_ok=True)
    return _read(path)
