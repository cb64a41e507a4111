"""The one page policy of both servers in a real browser (issue 12, finding 5): every main discovery
page, its error pages and the portal page a result leads to arrive with the strict nonce policy, and
Chromium reports no violation of it: every inline style and script is the server's own and runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import NEAR_ZIP, RADIUS, World

pytestmark = pytest.mark.browser

# Chromium logs each violation to the console; the page also hears of it as an event.
_REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) =>
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"}`));
"""
_STYLES_APPLIED = "[...document.querySelectorAll('style')].every((s) => s.sheet && s.sheet.cssRules.length > 0)"


def _said(message: Any) -> str:
    """A console error, unless it is the browser noting an error status (the error pages asked for,
    and a favicon no server has): those are answers, not violations."""
    text = str(message.text)
    return "" if text.startswith("Failed to load resource: the server responded with a status of") else text


def _watched(new_context: Callable[[], Any]) -> tuple[Page, list[str]]:
    page: Page = new_context().new_page()
    problems: list[str] = []
    page.add_init_script(_REPORT_VIOLATIONS)
    page.on("console", lambda message: problems.append(_said(message)) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return page, problems


def _visit(page: Page, url: str, status: int = 200) -> None:
    response = page.goto(url)
    assert response is not None
    assert response.status == status, url
    policy = response.headers.get("content-security-policy", "")
    assert "'nonce-" in policy, (url, policy)
    assert "frame-ancestors 'none'" in policy, (url, policy)
    assert response.headers.get("x-content-type-options") == "nosniff", url
    assert page.evaluate(_STYLES_APPLIED), f"{url}: an inline style sheet did not apply"


def test_main_pages_run_under_the_policy_without_a_violation(world: World, new_context: Callable[[], Any]) -> None:
    page, problems = _watched(new_context)
    discovery = world.discovery
    _visit(page, f"{discovery}/")
    _visit(page, f"{discovery}/search?near={NEAR_ZIP}&radius={RADIUS}")
    location = page.locator("a[href^='/locations/']").first
    expect(location).to_be_visible()
    location_url = discovery + str(location.get_attribute("href"))
    time_link = page.locator("ol.results a[href^='/go/']").first
    go_url = discovery + str(time_link.get_attribute("href"))
    _visit(page, location_url)
    _visit(page, f"{discovery}/status")
    _visit(page, f"{discovery}/my-referrals")
    _visit(page, f"{discovery}/locations/abc", 400)
    _visit(page, f"{discovery}/locations/{2**40}", 404)
    _visit(page, f"{discovery}/search?near={NEAR_ZIP}&to=9999-12-31", 400)
    # A result's time leads into the provider's portal (its landing page), under the same policy.
    _visit(page, go_url)
    assert any(page.url.startswith(p.origin + "/book/") for p in world.providers), page.url
    assert [p for p in problems if p] == [], problems
