"""Paying a demo invoice in Chromium, end to end, the way a newcomer does after ``make run``:
the demo data, ``connect_stripe --register-with-emulator``, the emulator in a thread serving
the hosted Checkout page, Stripe.js stand-in and signed webhooks to our live server."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection

from invoices.models import Invoice, InvoiceStatus
from invoices.services import share_link_create, share_link_token
from payments.models import Payment, WebhookEvent
from stripe_emulator.server import EmulatorServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo(live_server: Any, emulator: EmulatorServer, settings: Any) -> dict[str, Any]:
    """``make run`` in miniature: seed and connect acme to the emulator (the ``emulator``
    fixture points the Stripe API, Stripe.js and the CSP at it, as ``make run`` does)."""
    settings.PUBLIC_BASE_URL = live_server.url
    call_command("seed_demo", stdout=StringIO())
    # On SQLite the live server shares one in-memory connection between its threads, so a
    # webhook arriving while the browser's request runs would break both transactions: there
    # the redirect (and the card's polling) alone record the payment. CI runs PostgreSQL,
    # where the webhooks are delivered too.
    register = ["--register-with-emulator"] if connection.vendor == "postgresql" else []
    call_command(
        "connect_stripe",
        "acme",
        "--secret-key",
        "sk_test_acme_demo",
        "--webhook-secret",
        "whsec_acme_demo",
        "--publishable-key",
        "pk_test_acme_demo",
        *register,
        stdout=StringIO(),
    )
    return {"base": emulator.base_url}


def _unpaid_demo_invoice() -> tuple[Invoice, str]:
    invoice = (
        Invoice.objects.select_related("company")
        .filter(company__slug="acme", status=InvoiceStatus.OPEN, amount_paid=0, currency="usd")
        .order_by("sequence")
        .first()
    )
    assert invoice is not None, "seed_demo made no unpaid USD invoice for acme"
    return invoice, share_link_token(share_link_create(invoice=invoice))


def test_it_pays_a_demo_invoice_through_the_hosted_checkout_page(
    page: Any,
    live_server: Any,
    demo: dict[str, Any],
    screenshot: Any,
    emulator: EmulatorServer,
) -> None:
    invoice, token = _unpaid_demo_invoice()
    page.goto(f"{live_server.url}/invoice/{token}")
    page.get_by_test_id("pay-button").click()
    page.wait_for_url(f"{demo['base']}/checkout/**")
    page.locator("#pay-button").click()
    page.wait_for_url(f"{live_server.url}/invoice/{token}/pay/success**")
    result = page.get_by_test_id("pay-result")
    assert result.get_attribute("data-state") == "succeeded"
    assert page.get_by_test_id("invoice-paid").is_visible()
    screenshot(page, "success")
    page.goto(f"{live_server.url}/invoice/{token}")
    assert "Paid" in page.locator(".badge").first.inner_text()
    assert page.get_by_test_id("pay-button").count() == 0
    if connection.vendor == "postgresql":
        # The webhooks came too (redirect and webhook both reported it): still one payment.
        assert emulator.emulator.webhooks.wait_idle(timeout=20)
        assert WebhookEvent.objects.filter(type="checkout.session.completed").count() == 1
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_due) == (InvoiceStatus.PAID, 0)
    assert Payment.objects.filter(invoice=invoice).count() == 1


def test_it_pays_a_demo_invoice_with_the_card_on_the_page(
    page: Any, live_server: Any, demo: dict[str, Any], screenshot: Any
) -> None:
    invoice, token = _unpaid_demo_invoice()
    page.goto(f"{live_server.url}/invoice/{token}")
    page.locator("[data-pay-card] summary").click()
    page.get_by_test_id("card-element").locator("input").fill("4242 4242 4242 4242")
    page.get_by_test_id("card-pay-button").click()
    page.get_by_test_id("card-status").filter(has_text="Payment received").wait_for()
    screenshot(page, "card-paid")
    # The page reloads itself once the payment is recorded.
    page.wait_for_load_state("load")
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert Payment.objects.get(invoice=invoice).method == "card"


def test_it_shows_a_declined_card_plainly(
    page: Any, live_server: Any, demo: dict[str, Any]
) -> None:
    invoice, token = _unpaid_demo_invoice()
    page.goto(f"{live_server.url}/invoice/{token}")
    page.locator("[data-pay-card] summary").click()
    page.get_by_test_id("card-element").locator("input").fill("4000 0000 0000 0002")
    page.get_by_test_id("card-pay-button").click()
    error = page.locator("#card-error")
    error.wait_for()
    assert "declined" in error.inner_text()
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN


def test_a_german_customer_pays_part_with_a_decimal_comma(
    browser: Any, live_server: Any, demo: dict[str, Any], screenshot: Any
) -> None:
    """The field shows the amount due as a German writes it, says how to type one, and 100,50
    typed there opens Checkout for 100.50."""
    invoice, token = _unpaid_demo_invoice()
    Invoice.objects.filter(pk=invoice.pk).update(allow_partial_payments=True, minimum_payment=None)
    context = browser.new_context(locale="de-DE", extra_http_headers={"Accept-Language": "de"})
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/invoice/{token}")
        field = page.get_by_test_id("pay-amount")
        due = invoice.amount_due
        assert field.input_value() == f"{due // 100},{due % 100:02d}"
        assert "Geben Sie den Betrag so ein: 12,50." in page.content()
        field.fill("100,50")
        screenshot(page, "german-amount")
        page.get_by_test_id("pay-button").click()
        page.wait_for_url(f"{demo['base']}/checkout/**")
        attempt = invoice.pay_attempts.get()
        assert attempt.amount == 10050
    finally:
        context.close()
