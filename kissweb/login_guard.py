"""Brute-force protection of every login: the API token, the browser's /login/ and the admin's.

django-axes counts failed logins in the database (so every gunicorn worker and host sees the same count) per
account and, separately, per client address. Past `KISSWEB_LOGIN_FAILURE_LIMIT` failures either is refused for
`KISSWEB_LOGIN_COOLOFF_S` seconds with 429 and Retry-After, even with the right password; each failure during the
lock-out starts the wait again. This module holds what is ours: the client address behind a proxy, the
refusal in the API's error shape (or a page), and a backend that leaves logins without a request alone.
"""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_cool_off
from django.conf import settings
from django.shortcuts import render

from kissweb import errors


class LoginGuardBackend(AxesStandaloneBackend):
    """Axes' lock-out check for logins that come with a request. authenticate() without one (a shell, the test
    client's login) is no attempt from the network: axes would refuse it with an error, this lets it through."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


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
    wait = retry_after_s(request)
    minutes = -(-wait // 60)
    detail = (f"Too many failed logins from this account or address; try again in {minutes} minute"
              f"{'s' if minutes != 1 else ''} (or ask an administrator to unlock it).")
    if request.path.startswith("/api/"):
        response = errors.json_error(errors.DomainError(detail, code="login_locked"))
        response.status_code = 429
    else:
        response = render(request, "registration/locked_out.html", {"detail": detail, "wait_s": wait}, status=429)
    response["Retry-After"] = str(wait)
    return response
