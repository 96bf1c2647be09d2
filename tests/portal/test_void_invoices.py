"""Customers see the truth: a void invoice has nothing due anywhere, and no credit reads as a
formatted zero."""

from __future__ import annotations

from typing import Any

import pytest

from invoices.models import Company, Customer, InvoiceStatus
from tests import factories

pytestmark = pytest.mark.django_db


def test_it_shows_nothing_due_on_a_void_invoice(
    client: Any, tenant: Company, customer: Customer
) -> None:
    invoice = factories.make_invoice(tenant, customer, lines=[("Work", "1", 51247, "0")])
    token = factories.share_token(invoice)
    factories.services.invoice_void(invoice=invoice)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.VOID
    assert invoice.amount_due == 0
    html = client.get(f"/invoice/{token}").content.decode()
    assert "$512.47" in html  # the total still shows on the document
    assert "This invoice has been voided. Nothing is due." in html
    assert 'data-testid="summary-amount-due"' not in html
    assert 'data-testid="amount-due"' not in html


def test_it_lists_a_void_invoice_with_nothing_due_in_the_portal(
    client: Any, tenant: Company, customer: Customer
) -> None:
    invoice = factories.make_invoice(tenant, customer, lines=[("Work", "1", 51247, "0")])
    factories.services.invoice_void(invoice=invoice)
    html = client.get(f"/portal/{factories.portal_token(customer)}").content.decode()
    row = html.split('class="invoice-list"', 1)[1]
    assert "$512.47" not in row
    assert 'data-label="Amount due">$0.00<' in row
    assert 'data-testid="outstanding"><span class="amount">Nothing outstanding' in html


def test_it_shows_no_credit_as_a_formatted_zero(
    client: Any, tenant: Company, customer: Customer
) -> None:
    factories.make_invoice(tenant, customer)
    html = client.get(f"/portal/{factories.portal_token(customer)}?lang=de").content.decode()
    credit = html.split('data-testid="credit">', 1)[1].split("</dd>", 1)[0]
    assert "0,00" in credit and "$" in credit
    assert "None" not in credit and "Keine" not in credit
