"""Writes. Every change to the library's data goes through a function here."""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.db import transaction


@transaction.atomic
def admin_ensure(*, username: str | None, password: str | None) -> str | None:
    """Make sure an admin can log in; returns a generated password to show once, else None.

    With username and password given, that superuser exists with that password. Without them and with
    no user at all, `admin` is created with a random password.
    """
    User = get_user_model()
    if username and password:
        user, _ = User.objects.get_or_create(username=username)
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        return None
    if User.objects.exists():
        return None
    generated = secrets.token_urlsafe(12)
    User.objects.create_superuser(username="admin", email="", password=generated)
    return generated
