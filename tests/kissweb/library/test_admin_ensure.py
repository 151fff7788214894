"""`./kiss serve` makes sure someone can log in: the configured admin, or a generated one on an empty install."""

from __future__ import annotations

import pytest
from django.contrib.auth import authenticate, get_user_model

from kissweb.library.services import admin_ensure

pytestmark = pytest.mark.django_db


def test_empty_install_gets_admin_with_a_generated_password_once():
    password = admin_ensure(username=None, password=None)
    assert password and len(password) >= 12
    admin = authenticate(username="admin", password=password)
    assert admin is not None and admin.is_superuser and admin.is_staff
    assert admin_ensure(username=None, password=None) is None  # shown once: a second start makes nobody
    assert get_user_model().objects.count() == 1


def test_configured_admin_is_created_or_reset_to_the_given_password(user):
    assert admin_ensure(username="boss", password="first-password-1") is None
    assert authenticate(username="boss", password="first-password-1").is_superuser
    assert admin_ensure(username="boss", password="second-password-2") is None
    assert authenticate(username="boss", password="first-password-1") is None
    assert authenticate(username="boss", password="second-password-2") is not None


def test_existing_users_mean_no_generated_admin(user):
    assert admin_ensure(username=None, password=None) is None
    assert not get_user_model().objects.filter(username="admin").exists()
