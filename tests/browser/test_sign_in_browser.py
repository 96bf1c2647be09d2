"""A customer signs in by email in Chromium: the portal entry, the emailed link read from the
email backend, the Continue step, and the account page; accessible at phone width."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core import mail

from invoices.models import Company
from tests import factories
from tests.browser.conftest import PHONE
from tests.browser.test_pages_browser import _axe_violations
from tests.sign_in.conftest import emailed_links

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_customer_signs_in_by_email(
    live_server: Any, browser: Any, tenant: Company, screenshot: Callable[..., Path]
) -> None:
    customer = factories.make_customer(tenant, name="Ada Lovelace", email="ada@example.com")
    factories.make_invoice(tenant, customer)
    context = browser.new_context(viewport=PHONE, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(10_000)
    csp_errors: list[str] = []
    page.on(
        "console",
        lambda msg: csp_errors.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    try:
        page.goto(f"{live_server.url}/c/tenant/")
        screenshot(page, "entry")
        page.get_by_label("Email address").fill("Ada@Example.com")
        page.get_by_role("button", name="Email me a sign-in link").click()
        page.get_by_role("heading", name="Check your email").wait_for()
        screenshot(page, "check-email")

        (message,) = mail.outbox
        assert message.to == ["ada@example.com"]
        (path,) = emailed_links(message)
        page.goto(live_server.url + path)
        page.get_by_role("button", name="Continue").click()
        page.wait_for_url(f"**/portal/{factories.portal_token(customer)}")
        cookies = {c["name"]: c for c in context.cookies()}
        assert cookies["customer_session"]["httpOnly"]
        assert cookies["customer_session"]["sameSite"] == "Lax"

        # Signed in: the entry leads straight to the account.
        page.goto(f"{live_server.url}/c/tenant/")
        page.wait_for_url(f"**/portal/{factories.portal_token(customer)}")
        # The link worked once.
        response = page.goto(live_server.url + path)
        assert response is not None and response.status == 404
        assert csp_errors == []
    finally:
        context.close()


@pytest.mark.parametrize("which", ["entry", "continue"])
def test_the_sign_in_pages_are_accessible(
    live_server: Any, browser: Any, tenant: Company, which: str
) -> None:
    from invoices.customer_sessions import services as sessions
    from invoices.customer_sessions.models import SignInSource

    customer = factories.make_customer(tenant, name="Ada Lovelace", email="ada@example.com")
    if which == "entry":
        url = f"{live_server.url}/c/tenant/"
    else:
        link = sessions.sign_in_link_create(customer=customer, source=SignInSource.API)
        url = f"{live_server.url}/sign-in/{sessions.sign_in_link_token(link)}"
    assert _axe_violations(browser, url, PHONE) == []
