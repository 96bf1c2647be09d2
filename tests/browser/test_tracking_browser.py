"""View tracking end to end in headless Chromium: a customer opens the share link, the company's
staff see the view in the admin list (badge, first/last on hover, recent marker) and the log on
the invoice page, with no CSP violation; screenshots in test-artifacts/."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from invoices.models import Company
from tests import factories
from tests.browser.conftest import DESKTOP
from tracking.selectors import view_stats_for_invoice

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Headless Chromium names itself "HeadlessChrome", which tracking rightly treats as a scanner;
# the customer here is a person, so the context presents an ordinary desktop Chrome.
PERSON = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def test_it_shows_a_customers_open_to_staff(
    browser: Any,
    live_server: Any,
    tenant: Company,
    staff: Any,
    screenshot: Callable[..., Path],
) -> None:
    invoice = factories.make_invoice(tenant)
    token = factories.share_token(invoice)

    customer = browser.new_context(viewport=DESKTOP, locale="en-US", user_agent=PERSON)
    try:
        page = customer.new_page()
        response = page.goto(f"{live_server.url}/invoice/{token}?source=email")
        assert response is not None and response.status == 200
        page.reload()  # a refresh: recorded, not counted again
    finally:
        customer.close()
    stats = view_stats_for_invoice(invoice=invoice)
    assert stats.view_count == 1

    context = browser.new_context(viewport=DESKTOP, locale="en-US")
    try:
        admin = context.new_page()
        csp_errors: list[str] = []
        admin.on(
            "console",
            lambda msg: (
                csp_errors.append(msg.text) if "Content Security Policy" in msg.text else None
            ),
        )
        admin.goto(f"{live_server.url}/admin/login/")
        admin.fill("#id_username", staff.username)
        admin.fill("#id_password", "pw-for-tests-only")
        admin.click("input[type=submit]")
        admin.goto(f"{live_server.url}/admin/invoices/invoice/")

        badge = admin.locator(".view-badge").first
        assert badge.inner_text() == "1"
        assert badge.get_attribute("title").startswith("First viewed ")
        assert admin.locator(".view-badge__recent").first.get_attribute("title") == (
            "viewed recently"
        )
        # The stylesheet applied (a pill, not bare text).
        radius = badge.evaluate("el => getComputedStyle(el).borderTopLeftRadius")
        assert radius not in ("", "0px")
        screenshot(admin, "list")

        admin.goto(f"{live_server.url}/admin/invoices/invoice/{invoice.pk}/change/")
        log = admin.locator(".view-log")
        assert "Email" in log.inner_text()
        assert log.locator("tbody tr").count() == 2  # the open and the refresh
        screenshot(admin, "log")
        assert csp_errors == []
    finally:
        context.close()
