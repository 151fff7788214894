"""Brute-force protection: the token API, the browser login and the admin login lock out per account and per
address after KISSWEB_LOGIN_FAILURE_LIMIT failures, with 429 and Retry-After, counted in the database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

pytestmark = pytest.mark.django_db

LIMIT = 5  # settings.AXES_FAILURE_LIMIT's default (KISSWEB_LOGIN_FAILURE_LIMIT)


def token(client, username, password, ip="10.0.0.1"):
    return client.post("/api/auth/token/", {"username": username, "password": password},
                       content_type="application/json", REMOTE_ADDR=ip)


def test_the_limit_is_the_documented_default(settings):
    assert settings.AXES_FAILURE_LIMIT == LIMIT
    assert settings.AXES_COOLOFF_TIME == timedelta(minutes=15)


def test_the_token_api_locks_an_account_after_the_limit_even_for_the_right_password(client, user, settings):
    for _ in range(LIMIT - 1):
        assert token(client, "alice", "wrong").status_code == 400
    locked = token(client, "alice", "wrong")
    assert locked.status_code == 429
    assert locked["Retry-After"] == str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    body = locked.json()
    assert body["code"] == "login_locked" and "15 minutes" in body["detail"] and body["errors"] == {}
    assert token(client, "alice", "alice-pass-123").status_code == 429  # the right password does not get through
    assert token(client, "alice", "alice-pass-123", ip="10.9.9.9").status_code == 429  # nor from elsewhere


def test_the_token_api_locks_an_address_trying_many_accounts(client, user):
    for n in range(LIMIT):
        token(client, f"guess{n}", "wrong", ip="10.0.0.7")
    assert token(client, "alice", "alice-pass-123", ip="10.0.0.7").status_code == 429
    assert token(client, "alice", "alice-pass-123", ip="10.0.0.8").status_code == 200  # others are not affected


def test_failures_are_counted_in_the_database_and_expire_after_the_cool_off(client, user):
    from axes.models import AccessAttempt

    for _ in range(LIMIT):
        token(client, "alice", "wrong")
    assert sum(AccessAttempt.objects.values_list("failures_since_start", flat=True)) >= LIMIT
    assert token(client, "alice", "alice-pass-123").status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    assert token(client, "alice", "alice-pass-123").status_code == 200


def test_a_success_before_the_limit_is_not_refused(client, user):
    for _ in range(LIMIT - 2):
        token(client, "alice", "wrong")
    assert token(client, "alice", "alice-pass-123").status_code == 200


@pytest.mark.parametrize("url", ["/login/", "/admin/login/"])
def test_the_browser_and_admin_logins_lock_out_too(client, user, url, settings):
    user.is_staff = True
    user.save()
    for _ in range(LIMIT - 1):
        response = client.post(url, {"username": "alice", "password": "wrong"}, REMOTE_ADDR="10.0.0.2")
        assert response.status_code == 200  # the form again, with its error
    assert client.post(url, {"username": "alice", "password": "wrong"}, REMOTE_ADDR="10.0.0.2").status_code == 429
    locked = client.post(url, {"username": "alice", "password": "alice-pass-123"}, REMOTE_ADDR="10.0.0.2")
    assert locked.status_code == 429 and locked["Retry-After"] == "900"
    assert b"Too many failed logins" in locked.content
    assert "_auth_user_id" not in client.session


def test_behind_a_proxy_the_forwarded_address_is_counted(client, user, settings):
    settings.KISSWEB_PROXY_COUNT = 1
    for n in range(LIMIT):
        client.post("/api/auth/token/", {"username": f"guess{n}", "password": "x"}, content_type="application/json",
                    REMOTE_ADDR="172.18.0.5", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.9")

    def attempt(forwarded):
        return client.post("/api/auth/token/", {"username": "alice", "password": "alice-pass-123"},
                           content_type="application/json", REMOTE_ADDR="172.18.0.5", HTTP_X_FORWARDED_FOR=forwarded)
    assert attempt("203.0.113.9").status_code == 429
    assert attempt("5.6.7.8, 203.0.113.10").status_code == 200  # another client behind the same nginx
