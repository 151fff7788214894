"""Brute-force protection of every login: the API token, the browser's /login/ and the admin's.

django-axes counts failed logins in the database (so every gunicorn worker and host sees the same count) per
(account, address) and per address. Past `KISSWEB_LOGIN_FAILURE_LIMIT` failures either is refused for
`KISSWEB_LOGIN_COOLOFF_S` seconds with 429 and Retry-After, even with the right password. An account on its own is
never locked, or anyone could lock anyone out (the admin included): the right password from another address gets
in. Past `KISSWEB_LOGIN_SLOWDOWN_AFTER` failures of one account from all addresses together, its logins are spaced out
instead: each attempt waits 1, 2, 4 ... up to `KISSWEB_LOGIN_SLOWDOWN_MAX_S` seconds after the last failure (429 with
that Retry-After), which caps guessing from many addresses without shutting the owner out.

This module holds what is ours: the client address behind a proxy, the per-account slow-down, the refusal in the
API's error shape (or a page), and a backend that leaves logins without a request alone.
"""

from __future__ import annotations

import math
from datetime import timedelta

from axes.backends import AxesStandaloneBackend
from axes.exceptions import AxesBackendPermissionDenied
from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Max, Sum
from django.shortcuts import render
from django.utils import timezone

from kissweb import errors


class LoginGuardBackend(AxesStandaloneBackend):
    """Axes' lock-out check for logins that come with a request. authenticate() without one (a shell, the test
    client's login) is no attempt from the network: axes would refuse it with an error, this lets it through."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        super().authenticate(request, username=username, password=password, **kwargs)  # raises when locked out
        wait = account_wait_s(username)
        if wait > 0:
            request.axes_locked_out = True  # axes' middleware then answers with lockout_response
            request.kissweb_account_wait_s = wait
            raise AxesBackendPermissionDenied("this account's logins are being slowed down")
        return None


def account_wait_s(username: str | None) -> int:
    """Seconds the next login to this account must still wait (0: none): 2^(failures past the slow-down threshold)
    seconds after its last failure from any address, at most KISSWEB_LOGIN_SLOWDOWN_MAX_S."""
    if not username:
        return 0
    since = timezone.now() - (get_cool_off() or timedelta(minutes=15))
    recent = AccessAttempt.objects.filter(username=username, attempt_time__gte=since).aggregate(
        failures=Sum("failures_since_start"), last=Max("attempt_time"))
    past = (recent["failures"] or 0) - int(settings.KISSWEB_LOGIN_SLOWDOWN_AFTER)
    if past < 0:
        return 0
    delay_s = min(2.0 ** min(past, 30), float(settings.KISSWEB_LOGIN_SLOWDOWN_MAX_S))
    remaining = delay_s - (timezone.now() - recent["last"]).total_seconds()
    return math.ceil(remaining) if remaining > 0 else 0


def client_ip(request) -> str | None:
    """The address failures are counted for. Behind `KISSWEB_PROXY_COUNT` proxies that append to X-Forwarded-For
    (nginx's $proxy_add_x_forwarded_for), the entry the outermost of ours added; a client cannot forge it."""
    hops = int(getattr(settings, "KISSWEB_PROXY_COUNT", 0))
    if hops > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.META.get("REMOTE_ADDR")


def retry_after_s(request) -> int:
    cool_off = get_cool_off(request)
    return max(1, int(cool_off.total_seconds())) if cool_off else 3600


def lockout_response(request, original_response=None, credentials=None):  # noqa: ARG001 - axes' signature
    """429 with Retry-After: the API's JSON error under /api/, a page elsewhere (browser and admin logins)."""
    account_wait = getattr(request, "kissweb_account_wait_s", 0)
    if account_wait:
        wait = account_wait
        detail = (f"This account has had many failed logins lately, so its logins are slowed down; try again in "
                  f"{wait} second{'s' if wait != 1 else ''}.")
    else:
        wait = retry_after_s(request)
        minutes = -(-wait // 60)
        detail = (f"Too many failed logins from this address; try again in {minutes} minute"
                  f"{'s' if minutes != 1 else ''} (or ask an administrator to unlock it).")
    if request.path.startswith("/api/"):
        response = errors.json_error(errors.DomainError(detail, code="login_locked"))
        response.status_code = 429
    else:
        response = render(request, "registration/locked_out.html", {"detail": detail, "wait_s": wait}, status=429)
    response["Retry-After"] = str(wait)
    return response
