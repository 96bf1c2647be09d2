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
from tests.browser.conftest import PHONE
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


def _tick_both(page: Any, account: dict[str, Any]) -> None:
    page.goto(f"{account['url']}/invoices")
    for key in ("older", "newer"):
        page.locator(f"input[value='{account[key].public_id}']").check()


def test_two_invoices_are_paid_in_one_checkout(
    page: Any, browser: Any, account: dict[str, Any], screenshot: Any
) -> None:
    violations = _csp_violations(page)
    page.goto(f"{account['url']}/invoices")
    button = page.get_by_test_id("pay-selected")
    assert button.inner_text() == "Pay selected (0)"
    # Ticking the rows updates the button; unticking one takes it off again.
    _tick_both(page, account)
    assert button.inner_text() == "Pay selected (2) — $150.50"
    newer_box = page.locator(f"input[value='{account['newer'].public_id}']")
    newer_box.uncheck()
    assert button.inner_text() == "Pay selected (1) — $120.00"
    newer_box.check()
    screenshot(page, "form")
    assert _axe_violations(browser, f"{account['url']}/invoices", PHONE) == []
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
    assert _axe_violations(browser, page.url, PHONE) == []


def test_pay_everything_due_on_the_home_pays_every_invoice_due(
    page: Any, account: dict[str, Any]
) -> None:
    page.goto(account["url"])
    page.get_by_test_id("pay-everything-due").click()
    _pay_on_hosted_page(page, account)
    _refresh(account["older"], account["newer"])
    assert account["older"].status == account["newer"].status == InvoiceStatus.PAID


def test_one_total_is_split_oldest_first(page: Any, account: dict[str, Any]) -> None:
    _tick_both(page, account)
    page.get_by_label("Amount (optional)").fill("130.00")
    page.get_by_test_id("pay-selected").click()
    _pay_on_hosted_page(page, account)
    _refresh(account["older"], account["newer"])
    assert (account["older"].status, account["older"].amount_paid) == (InvoiceStatus.PAID, 12000)
    assert (account["newer"].status, account["newer"].amount_paid) == (InvoiceStatus.OPEN, 1000)


def test_a_refused_total_shows_the_message_and_the_form_again(
    page: Any, account: dict[str, Any]
) -> None:
    _tick_both(page, account)
    page.get_by_label("Amount (optional)").fill("100.00")  # would leave the first part-paid
    page.get_by_test_id("pay-selected").click()
    assert "must be paid in full" in page.get_by_test_id("pay-error").inner_text()
    assert page.get_by_test_id("pay-selected-button").is_visible()
    assert not CheckoutAttempt.objects.exists()


def test_credit_covering_everything_needs_no_card(
    page: Any, tenant: Company, account: dict[str, Any], screenshot: Any
) -> None:
    customer: Customer = account["customer"]
    credit_note_create(company=tenant, customer=customer, currency="usd", amount=20000)
    _tick_both(page, account)
    assert page.get_by_label("Use my credit first").is_checked()
    page.get_by_test_id("pay-selected").click()
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
    _tick_both(page, account)
    page.get_by_test_id("pay-selected").click()
    page.wait_for_url(f"{account['emulator']}/checkout/**")
    # Meanwhile the newer invoice is paid by bank transfer.
    services.payment_record_offline(invoice=account["newer"], amount=3050, method="bank_transfer")
    page.locator("#pay-button").click()
    page.wait_for_url(f"{account['url']}/pay/result**")
    assert "$30.50" in page.get_by_test_id("surplus").inner_text()
    page.goto(account["url"])
    assert page.get_by_test_id("credit-available").inner_text() == "$30.50"

    share = Payment.objects.get(invoice=account["older"], attempt__isnull=False)
    services.payment_refund(payment=share, amount=2000)
    _refresh(account["older"])
    assert (account["older"].status, account["older"].amount_paid) == (InvoiceStatus.OPEN, 10000)
    # "Pay balance" on the statement: what is due again.
    page.goto(f"{account['url']}/statement")
    assert "Pay selected (1) — $20.00" in page.get_by_test_id("pay-selected-button").inner_text()
