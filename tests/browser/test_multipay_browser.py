"""Paying several invoices at once in Chromium: the account's "Pay everything due" form, the
emulator's hosted Checkout page (one line per invoice), the result page with the allocation;
one total split oldest first, credit covering everything (no card), a surplus kept as credit,
and a refund reversing a share. axe-core finds no serious problem, and no CSP violation."""

from __future__ import annotations

from typing import Any

import pytest

from invoices.models import Company, Customer, Invoice, InvoiceStatus
from invoices.services import credit_note_create
from payments import services
from payments.models import CheckoutAttempt, Payment
from stripe_emulator.server import EmulatorServer
from tests.browser.test_pages_browser import _axe_violations
from tests.factories import make_customer, make_invoice, portal_token
from tests.payments.conftest import PUBLISHABLE_KEY, SECRET_KEY, WEBHOOK_SECRET

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def account(
    tenant: Company, live_server: Any, emulator: EmulatorServer, settings: Any
) -> dict[str, Any]:
    settings.PUBLIC_BASE_URL = live_server.url
    services.stripe_connection_save(
        company=tenant,
        secret_key=SECRET_KEY,
        webhook_secret=WEBHOOK_SECRET,
        publishable_key=PUBLISHABLE_KEY,
    )
    customer = make_customer(tenant, name="Ada Lovelace")
    older = make_invoice(tenant, customer, lines=[("Design", "1", 12000, "0")], due_in_days=5)
    newer = make_invoice(
        tenant,
        customer,
        lines=[("Hosting", "1", 3050, "0")],
        due_in_days=20,
        allow_partial_payments=True,
    )
    return {
        "customer": customer,
        "older": older,
        "newer": newer,
        "url": f"{live_server.url}/portal/{portal_token(customer)}",
        "emulator": emulator.base_url,
    }


def _csp_violations(page: Any) -> list[str]:
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return violations


def _pay_on_hosted_page(page: Any, account: dict[str, Any]) -> None:
    page.wait_for_url(f"{account['emulator']}/checkout/**")
    page.locator("#pay-button").click()
    page.wait_for_url(f"{account['url']}/pay/result**")


def _refresh(*invoices: Invoice) -> None:
    for invoice in invoices:
        invoice.refresh_from_db()


def test_two_invoices_are_paid_in_one_checkout(
    page: Any, browser: Any, account: dict[str, Any], screenshot: Any
) -> None:
    violations = _csp_violations(page)
    page.goto(account["url"])
    button = page.get_by_test_id("pay-selected-button")
    assert button.inner_text() == "Pay selected (2) — $150.50"
    # Unticking one updates the button; ticking it again restores it.
    newer_box = page.locator(f"input[value='{account['newer'].public_id}']")
    newer_box.uncheck()
    assert button.inner_text() == "Pay selected (1) — $120.00"
    newer_box.check()
    screenshot(page, "form")
    assert _axe_violations(browser, account["url"], {"width": 360, "height": 740}) == []
    button.click()
    _pay_on_hosted_page(page, account)
    assert page.get_by_test_id("pay-result").get_attribute("data-state") == "succeeded"
    allocation = page.get_by_test_id("allocation").inner_text()
    assert account["older"].number in allocation and "$120.00" in allocation
    assert account["newer"].number in allocation and "$30.50" in allocation
    screenshot(page, "result")
    _refresh(account["older"], account["newer"])
    assert account["older"].status == account["newer"].status == InvoiceStatus.PAID
    attempt = CheckoutAttempt.objects.get(purpose="invoices")
    assert len(attempt.plan) == 2 and Payment.objects.filter(attempt=attempt).count() == 2
    assert violations == []
    assert _axe_violations(browser, page.url, {"width": 360, "height": 740}) == []


def test_one_total_is_split_oldest_first(page: Any, account: dict[str, Any]) -> None:
    page.goto(account["url"])
    page.get_by_label("Amount (optional)").fill("130.00")
    page.get_by_test_id("pay-selected-button").click()
    _pay_on_hosted_page(page, account)
    _refresh(account["older"], account["newer"])
    assert (account["older"].status, account["older"].amount_paid) == (InvoiceStatus.PAID, 12000)
    assert (account["newer"].status, account["newer"].amount_paid) == (InvoiceStatus.OPEN, 1000)


def test_a_refused_total_shows_the_message_and_the_form_again(
    page: Any, account: dict[str, Any]
) -> None:
    page.goto(account["url"])
    page.get_by_label("Amount (optional)").fill("100.00")  # would leave the first part-paid
    page.get_by_test_id("pay-selected-button").click()
    assert "must be paid in full" in page.get_by_test_id("pay-error").inner_text()
    assert page.get_by_test_id("pay-selected-button").is_visible()
    assert not CheckoutAttempt.objects.exists()


def test_credit_covering_everything_needs_no_card(
    page: Any, tenant: Company, account: dict[str, Any], screenshot: Any
) -> None:
    customer: Customer = account["customer"]
    credit_note_create(company=tenant, customer=customer, currency="usd", amount=20000)
    page.goto(account["url"])
    credit = page.get_by_label("Use my credit of $200.00 first")
    assert credit.is_checked()
    page.get_by_test_id("pay-selected-button").click()
    page.wait_for_url(f"{account['url']}/pay/result**")
    assert page.get_by_test_id("pay-result").get_attribute("data-state") == "succeeded"
    allocation = page.get_by_test_id("allocation").inner_text()
    assert "$120.00" in allocation and "$30.50" in allocation  # both in the credit column
    screenshot(page, "credit")
    _refresh(account["older"], account["newer"])
    assert account["older"].status == account["newer"].status == InvoiceStatus.PAID
    assert not Payment.objects.exists()


def test_a_surplus_is_kept_as_credit_and_a_refund_reverses_a_share(
    page: Any, account: dict[str, Any]
) -> None:
    page.goto(account["url"])
    page.get_by_test_id("pay-selected-button").click()
    page.wait_for_url(f"{account['emulator']}/checkout/**")
    # Meanwhile the newer invoice is paid by bank transfer.
    services.payment_record_offline(invoice=account["newer"], amount=3050, method="bank_transfer")
    page.locator("#pay-button").click()
    page.wait_for_url(f"{account['url']}/pay/result**")
    assert "$30.50" in page.get_by_test_id("surplus").inner_text()
    page.goto(account["url"])
    assert "$30.50" in page.get_by_test_id("credit").inner_text()

    share = Payment.objects.get(invoice=account["older"], attempt__isnull=False)
    services.payment_refund(payment=share, amount=2000)
    _refresh(account["older"])
    assert (account["older"].status, account["older"].amount_paid) == (InvoiceStatus.OPEN, 10000)
    page.goto(account["url"])
    assert "Pay selected (1) — $20.00" in page.get_by_test_id("pay-selected-button").inner_text()
