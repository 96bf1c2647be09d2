"""Amounts typed by customers are read in the page's language: ``100,50`` on a German page,
``1 234,50`` on a French one; the dot form stays accepted where it cannot be ambiguous."""

from __future__ import annotations

from typing import Any

import pytest

from invoices.models import Company
from payments.models import CheckoutAttempt, StripeConnection
from payments.rules import AmountError, payment_amount_parse
from tests.factories import make_invoice, share_token

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("text", "locale", "minor"),
    [
        ("100,50", "de", 10050),
        ("1.234,50", "de", 123450),
        ("1234,5", "es", 123450),
        ("1\u202f234,50", "fr", 123450),
        ("1 234,50", "fr", 123450),
        ("100.50", "de", 10050),  # no comma: the contract's dot form, not ambiguous
        ("1,234.50", "en", 123450),
    ],
)
def test_it_reads_amounts_as_the_page_language_writes_them(
    tenant: Company, text: str, locale: str, minor: int
) -> None:
    invoice = make_invoice(tenant, lines=[("Work", "1", 500000, "0")], allow_partial_payments=True)
    assert payment_amount_parse(invoice=invoice, text=text, locale=locale) == minor


@pytest.mark.parametrize(("text", "locale"), [("1,234", "de"), ("100,50", "en"), ("12,5,0", "fr")])
def test_it_never_reads_a_comma_two_ways(tenant: Company, text: str, locale: str) -> None:
    invoice = make_invoice(tenant, lines=[("Work", "1", 500000, "0")], allow_partial_payments=True)
    with pytest.raises(AmountError):
        payment_amount_parse(invoice=invoice, text=text, locale=locale)


def test_it_offers_and_takes_a_decimal_comma_on_a_german_page(
    client: Any, tenant: Company, connected: StripeConnection
) -> None:
    invoice = make_invoice(tenant, lines=[("Work", "1", 16047, "0")], allow_partial_payments=True)
    token = share_token(invoice)
    page = client.get(f"/invoice/{token}?lang=de").content.decode()
    assert 'value="160,47"' in page
    assert "Geben Sie den Betrag so ein: 12,50." in page
    response = client.post(f"/invoice/{token}/pay?lang=de", {"amount": "100,50"})
    assert response.status_code == 303
    assert CheckoutAttempt.objects.get().amount == 10050


def test_it_explains_a_bad_amount_with_an_example_in_the_page_language(
    client: Any, tenant: Company, connected: StripeConnection
) -> None:
    invoice = make_invoice(tenant, lines=[("Work", "1", 16047, "0")], allow_partial_payments=True)
    response = client.post(f"/invoice/{share_token(invoice)}/pay?lang=fr", {"amount": "abc"})
    assert response.status_code == 400
    assert "par exemple 12,50." in response.content.decode()
    assert CheckoutAttempt.objects.count() == 0
