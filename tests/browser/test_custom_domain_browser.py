"""A company's own portal domain in Chromium: the host name is mapped to the live server
(``--host-resolver-rules``), the custom stylesheet applies, the custom script runs there and
only there, and the browser reports no CSP violation on either origin."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from invoices.models import Company
from tests import factories
from tests.browser.conftest import ASYNC_UNSAFE, CHROMIUM, CHROMIUM_ARGS, DESKTOP

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HOST = "billing.acme.test"
CSS = (
    "body { background-color: rgb(250, 240, 230); }\n"
    ".page { border-top: 6px solid rgb(15, 118, 110); }\n"
)
JS = "document.documentElement.setAttribute('data-acme-script', 'ran');\n"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium that resolves the company's host name to this machine, as DNS would."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    previous = os.environ.get(ASYNC_UNSAFE)
    os.environ[ASYNC_UNSAFE] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=[*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {HOST} 127.0.0.1"],
                headless=True,
            )
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop(ASYNC_UNSAFE, None)
        else:
            os.environ[ASYNC_UNSAFE] = previous


@pytest.fixture
def acme_invoice_path(transactional_db: Any) -> str:
    company: Company = factories.make_company(
        slug="acme",
        name="Acme Studio",
        portal_domain=HOST,
        portal_custom_css=CSS,
        portal_custom_js=JS,
        portal_csp_trusted_sites=[{"origin": "https://cdn.acme.example", "kinds": ["img"]}],
    )
    return f"/invoice/{factories.share_token(factories.make_invoice(company))}"


def _open(browser: Any, url: str) -> tuple[Any, Any, list[str]]:
    context = browser.new_context(viewport=DESKTOP, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(10_000)
    violations: list[str] = []
    page.on(
        "console",
        lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    response = page.goto(url)
    assert response is not None and response.status == 200, url
    page.wait_for_load_state("load")
    return context, page, violations


def _styles(page: Any) -> tuple[str, str]:
    return tuple(
        page.evaluate(
            "() => [getComputedStyle(document.body).backgroundColor,"
            " getComputedStyle(document.querySelector('.page')).borderTopColor]"
        )
    )


def test_it_applies_the_custom_css_and_js_on_the_company_domain(
    live_server: Any, browser: Any, acme_invoice_path: str
) -> None:
    port = live_server.url.rsplit(":", 1)[1]
    context, page, violations = _open(browser, f"http://{HOST}:{port}{acme_invoice_path}")
    try:
        assert _styles(page) == ("rgb(250, 240, 230)", "rgb(15, 118, 110)")
        page.wait_for_function(
            "() => document.documentElement.getAttribute('data-acme-script') === 'ran'"
        )
        assert page.get_by_text("Acme Studio").first.is_visible()
        assert violations == []
    finally:
        context.close()


def test_it_applies_the_css_but_never_runs_the_js_on_the_shared_origin(
    live_server: Any, browser: Any, acme_invoice_path: str
) -> None:
    context, page, violations = _open(browser, live_server.url + acme_invoice_path)
    try:
        assert _styles(page) == ("rgb(250, 240, 230)", "rgb(15, 118, 110)")
        page.wait_for_timeout(300)  # a deferred script would have run by now
        assert (
            page.evaluate("() => document.documentElement.getAttribute('data-acme-script')") is None
        )
        assert violations == []
    finally:
        context.close()


def test_it_answers_a_stranger_host_with_400(live_server: Any, browser: Any) -> None:
    port = live_server.url.rsplit(":", 1)[1]
    context = browser.new_context()
    try:
        page = context.new_page()
        response = page.goto(f"http://{HOST}:{port}/")
        assert response is not None and response.status == 400  # no company has it (yet)
    finally:
        context.close()
