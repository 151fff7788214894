"""The Content-Security-Policy (self only, no inline script or style) holds on every page: Chromium reports no
violation on the app's pages, the login, the admin and the API docs, and Permissions-Policy is sent."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import kissing_type, screenshot, sign_in, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Every violation the page reports, collected before any of its scripts runs.
COLLECT_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => window.__cspViolations.push(
  `${e.effectiveDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`));
"""


def visit(page, url: str) -> list[str]:
    response = page.goto(url)
    assert response.status == 200, f"{url}: {response.status}"
    headers = response.headers
    policy = headers.get("content-security-policy", "")
    assert "script-src 'self'" in policy and "style-src 'self'" in policy and "unsafe-inline" not in policy, url
    assert "camera=()" in headers.get("permissions-policy", ""), url
    page.wait_for_load_state("networkidle")
    return [f"{url}: {v}" for v in page.evaluate("window.__cspViolations")]


def test_no_page_breaks_the_content_security_policy(browser_context, live_server, django_user_model, analysed_movie):
    kissing_type()
    admin = django_user_model.objects.create_superuser(username="root", password="root-pass-123", email="")
    context, console = browser_context
    console.allow("Applying inline style violates")  # the control below; this test collects violations itself
    context.add_init_script(COLLECT_VIOLATIONS)
    movie = analysed_movie(uploaded_by=admin)
    page = context.new_page()

    violations = visit(page, "/login/")
    # The check can fail: an inline style set the way the frontend no longer does is reported.
    page.evaluate("document.body.setAttribute('style', 'color: red')")
    wait_until(page, "window.__cspViolations.length > 0")
    page.evaluate("window.__cspViolations = []")

    sign_in(context, live_server, admin)
    for url in ("/", "/upload/", "/scenes/", f"/movies/{movie.pk}/", "/scene-types/", "/scene-types/kissing/",
                "/api/docs/", "/admin/", "/admin/library/movie/", f"/admin/library/movie/{movie.pk}/change/"):
        violations += visit(page, url)
        if url == f"/movies/{movie.pk}/":
            page.locator(".scene-item").first.click()  # the player's scene list, timeline and score curve
            page.locator("#annotate-toggle").click()  # annotation mode builds its panel
            page.wait_for_timeout(300)
            violations += [f"{url}: {v}" for v in page.evaluate("window.__cspViolations")]
        if url == "/api/docs/":
            page.wait_for_selector(".opblock", timeout=15_000)  # Swagger UI rendered the schema
            violations += [f"{url}: {v}" for v in page.evaluate("window.__cspViolations")]
            screenshot(page, "api-docs")
    assert not violations, "Content-Security-Policy violations:\n" + "\n".join(violations)
