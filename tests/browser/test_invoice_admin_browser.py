"""The invoice admin end to end in headless Chromium: a clerk creates an invoice typing
major-unit amounts, finalizes it, records a payment, voids it choosing customer credit, and
shares the PDF (headless Chromium cannot share files: the PDF downloads), all at 1280 px with
no CSP violation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from invoices.models import Company, CreditNote, Customer
from tests.browser.conftest import DESKTOP

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _fits(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= DESKTOP["width"], width


def test_a_clerk_creates_finalizes_is_paid_and_voids_with_credit(
    browser: Any,
    live_server: Any,
    tenant: Company,
    customer: Customer,
    staff: Any,
    screenshot: Callable[..., Path],
) -> None:
    context = browser.new_context(viewport=DESKTOP, locale="en-US", accept_downloads=True)
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        csp_errors: list[str] = []
        page.on(
            "console",
            lambda msg: (
                csp_errors.append(msg.text) if "Content Security Policy" in msg.text else None
            ),
        )
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", staff.username)
        page.fill("#id_password", "pw-for-tests-only")
        page.click("input[type=submit]")

        page.goto(f"{live_server.url}/admin/invoices/invoice/add/")
        assert page.input_value("#id_currency") == "usd"
        assert page.input_value("#id_company") == str(tenant.pk)
        assert page.input_value("#id_due_date")
        assert page.locator("input[name$='-unit_amount']:not([name*=__prefix__])").count() == 3
        _fits(page)
        screenshot(page, "add")
        page.select_option("#id_customer", str(customer.pk))
        page.fill("#id_lines-0-description", "Consulting")
        page.fill("#id_lines-0-quantity", "1")
        page.fill("#id_lines-0-unit_amount", "1,200.00")
        page.fill("#id_lines-1-description", "Travel")
        page.fill("#id_lines-1-quantity", "1")
        page.fill("#id_lines-1-unit_amount", "9.99")
        page.click("input[name=_continue]")
        invoice = tenant.invoices.get()
        assert invoice.total == 120999
        assert "$1,209.99" in page.locator(".field-total_display").inner_text()

        page.click("button[data-action=finalize]")
        page.wait_for_selector("a[data-action=record_payment]")
        invoice.refresh_from_db()
        assert invoice.status == "open"
        _fits(page)
        screenshot(page, "open")

        page.click("a[data-action=record_payment]")
        page.fill("#id_amount", "200.00")
        page.click("input[type=submit], button[type=submit]")
        page.wait_for_selector("a[data-action=void]")
        invoice.refresh_from_db()
        assert invoice.amount_paid == 20000

        page.click("a[data-action=void]")
        assert "$200.00" in page.content()
        page.check("input[name=payments][value=credit]")
        page.click("input[type=submit], button[type=submit]")
        page.wait_for_selector(".messagelist")
        invoice.refresh_from_db()
        assert invoice.status == "void"
        assert CreditNote.objects.get().amount == 20000

        # Share PDF: headless Chromium cannot share files, so the link downloads the PDF.
        assert (
            page.evaluate(
                "() => !!(navigator.canShare && navigator.canShare({files: "
                "[new File([''], 'x.pdf', {type: 'application/pdf'})]}))"
            )
            is False
        )
        with page.expect_download() as download:
            page.click("a[data-action=share_pdf]")
        assert download.value.suggested_filename.endswith(".pdf")
        assert csp_errors == []
    finally:
        context.close()
