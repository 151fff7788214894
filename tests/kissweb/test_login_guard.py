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
    # ... from that address: the account itself is not locked, or anyone could lock anyone out (issue 19 item 7).
    assert token(client, "alice", "alice-pass-123", ip="10.9.9.9").status_code == 200


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


# --- issue 19 item 7: nobody can lock another person's account ----------------------------------------------


def test_failures_from_one_address_never_lock_the_admin_out_from_another(client, staff_user):
    for _ in range(3 * LIMIT):
        token(client, "carol", "wrong", ip="10.6.6.6")
    assert token(client, "carol", "wrong", ip="10.6.6.6").status_code == 429  # the guesser's address is locked
    assert token(client, "carol", "carol-pass-123", ip="10.1.1.1").status_code == 200  # the owner is not
    for url in ("/login/", "/admin/login/"):
        response = client.post(url, {"username": "carol", "password": "carol-pass-123"}, REMOTE_ADDR="10.1.1.2")
        assert response.status_code == 302, url


def test_a_locked_out_address_is_not_renewed_by_further_tries(client, user):
    from axes.models import AccessAttempt

    for _ in range(LIMIT):
        token(client, "alice", "wrong", ip="10.0.0.3")
    failures = sum(AccessAttempt.objects.values_list("failures_since_start", flat=True))
    for _ in range(3):
        assert token(client, "alice", "wrong", ip="10.0.0.3").status_code == 429
    assert sum(AccessAttempt.objects.values_list("failures_since_start", flat=True)) == failures


def test_many_addresses_slow_an_account_down_instead_of_locking_it(client, user, settings):
    from axes.models import AccessAttempt

    settings.KISSWEB_LOGIN_SLOWDOWN_AFTER = 2 * LIMIT
    for n in range(2 * LIMIT):  # a botnet: two guesses from each address, under every per-address limit
        token(client, "alice", "wrong", ip=f"10.7.0.{n // 2}")
    slowed = token(client, "alice", "alice-pass-123", ip="10.8.0.1")
    assert slowed.status_code == 429
    assert 1 <= int(slowed["Retry-After"]) <= 2
    assert slowed.json()["code"] == "login_locked" and "slowed down" in slowed.json()["detail"]
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(seconds=2))  # the wait has passed
    assert token(client, "alice", "alice-pass-123", ip="10.8.0.1").status_code == 200


def test_the_slow_down_grows_with_failures_up_to_its_cap(client, user, settings):
    from kissweb.login_guard import account_wait_s

    settings.KISSWEB_LOGIN_SLOWDOWN_AFTER = 4
    settings.KISSWEB_LOGIN_SLOWDOWN_MAX_S = 60
    from axes.models import AccessAttempt
    from django.db.models import F

    waits = []
    for n in range(12):
        assert token(client, "alice", "wrong", ip=f"10.9.{n}.1").status_code == 400
        waits.append(account_wait_s("alice"))
        assert token(client, "alice", "wrong", ip=f"10.9.{n}.2").status_code == (429 if waits[-1] else 400)
        if not waits[-1]:
            waits[-1] = account_wait_s("alice")  # that second try counted
        AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(seconds=waits[-1]))
    assert waits[:2] == [0, 1]  # 2 and 4 failures; the try refused while waiting is not counted
    assert waits[2:7] == [2, 4, 8, 16, 32]
    assert max(waits) == 60
