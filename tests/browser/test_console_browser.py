"""The customer pages in headless Chromium, on a phone and a desktop: nothing in the console (no
error, no failed request such as a missing favicon, no uncaught exception, no CSP violation),
and the back button shows them again from the back/forward cache, the live comment thread
picking up what was said meanwhile."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from invoices.models import Company
from portal.comments import services as comments
from tests import factories
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, DESKTOP, PHONE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ACCOUNT_TABS = ("/invoices", "/credit-notes", "/payments", "/statement")

# Recorded from the first script on: what the page's own listeners would see.
WATCH = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI);
});
window.__shows = [];
window.addEventListener("pageshow", function (e) { window.__shows.push(e.persisted); });
"""

NOT_RESTORED = """() => {
  const entry = performance.getEntriesByType("navigation")[0];
  return JSON.stringify(entry && entry.notRestoredReasons);
}"""


@pytest.fixture
def pages(transactional_db: Any) -> dict[str, Any]:
    company: Company = factories.make_company(slug="acme", name="Acme Studio GmbH", plan="pro")
    customer = factories.make_customer(
        company, name="Ada Lovelace", email="ada@example.com", city="London", country="GB"
    )
    invoice = factories.make_invoice(
        company, customer, currency="eur", lines=[("Logo design", "1", 98000, "19")]
    )
    factories.make_invoice(company, customer, currency="eur")
    portal = f"/portal/{factories.portal_token(customer)}"
    return {
        "invoice": invoice,
        "urls": [
            f"/invoice/{factories.share_token(invoice)}",
            portal,
            *(portal + tab for tab in ACCOUNT_TABS),
        ],
    }


@pytest.fixture(scope="module")
def bfcache_browser(browser: Any) -> Iterator[Any]:
    """Chromium as a person runs it: Playwright turns the back/forward cache off by default."""
    chromium = browser.browser_type.launch(
        executable_path=CHROMIUM,
        args=CHROMIUM_ARGS,
        headless=True,
        ignore_default_args=["--disable-back-forward-cache"],
    )
    yield chromium
    chromium.close()


def _watched(browser: Any, viewport: dict[str, int]) -> tuple[Any, Any, list[str]]:
    context = browser.new_context(viewport=viewport, locale="en-US")
    context.add_init_script(WATCH)
    page = context.new_page()
    page.set_default_timeout(30_000)  # a busy machine: the live server is one process
    problems: list[str] = []
    page.on(
        "console",
        lambda msg: (
            problems.append(f"console {msg.type}: {msg.text} {msg.location}")
            if msg.type in ("error", "warning")
            else None
        ),
    )
    page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
    page.on(
        "response",
        lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )
    return context, page, problems


def test_it_logs_nothing_in_the_console_on_phone_and_desktop(
    live_server: Any, browser: Any, pages: dict[str, Any]
) -> None:
    for viewport in (PHONE, DESKTOP):
        for path in pages["urls"]:
            context, page, problems = _watched(browser, viewport)
            try:
                response = page.goto(live_server.url + path)
                assert response is not None and response.status == 200, path
                # The icon is asked for after the load; the comment thread polls every second.
                page.wait_for_timeout(1500)
                icon = page.evaluate("document.querySelector('link[rel=icon]').href")
                problems += page.evaluate("window.__cspViolations")
            finally:
                context.close()
            assert problems == [], (viewport, path)
            assert "/static/favicon" in icon


def test_it_serves_the_root_favicon_browsers_ask_for_anyway(live_server: Any) -> None:
    import urllib.request

    with urllib.request.urlopen(live_server.url + "/favicon.ico", timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "image/x-icon"
        assert response.read(4) == b"\x00\x00\x01\x00"  # an icon file


def test_it_comes_back_from_the_back_forward_cache(
    live_server: Any, bfcache_browser: Any, pages: dict[str, Any]
) -> None:
    """Every customer page stays "no-store" (personal); Chromium restores such a page from
    memory as long as none of its scripts received a "no-store" response and no cookie
    changed. The invoice page's comment thread reads "no-store" answers (the contract), so it
    is reloaded instead; the portal and account pages are restored."""
    for viewport in (PHONE, DESKTOP):
        for path in pages["urls"][1:]:
            context, page, problems = _watched(bfcache_browser, viewport)
            try:
                response = page.goto(live_server.url + path)
                assert response is not None and response.headers["cache-control"] == "no-store"
                page.wait_for_timeout(300)  # the comment thread's first poll
                page.goto(live_server.url + "/healthz")
                page.go_back(wait_until="commit")
                with contextlib.suppress(PlaywrightTimeoutError):
                    page.wait_for_function("() => window.__shows.length > 1", timeout=5000)
                shows = page.evaluate("window.__shows")
                reasons = page.evaluate(NOT_RESTORED)
            finally:
                context.close()
            # First shown when loaded, then again when restored ("persisted").
            assert shows == [False, True], f"{path} not restored: {reasons}"
            assert problems == [], (viewport, path)


def test_the_invoice_page_shows_comments_written_meanwhile_on_back(
    live_server: Any, bfcache_browser: Any, pages: dict[str, Any]
) -> None:
    invoice_path = pages["urls"][0]
    context, page, problems = _watched(bfcache_browser, DESKTOP)
    try:
        page.goto(live_server.url + invoice_path)
        page.wait_for_selector("[data-comments][data-transport]")
        page.goto(live_server.url + "/healthz")
        comments.comment_post(
            invoice=pages["invoice"], name="Bob", email="bob@example.com", body="While away"
        )
        page.go_back()
        page.locator(".comment-list .comment-body", has_text="While away").wait_for()
    finally:
        context.close()
    assert problems == []
