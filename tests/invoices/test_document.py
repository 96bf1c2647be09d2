"""The formatting the invoice document uses: Babel, per locale, with our money rules."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from invoices.document import (
    brand_color,
    date_display,
    invoice_document,
    quantity_display,
    tax_rate_display,
)
from invoices.models import Company, Customer
from tests import factories


@pytest.mark.parametrize(
    ("quantity", "locale", "shown"),
    [("2.000", "en", "2"), ("1.500", "de", "1,5"), ("1234.250", "fr", "1\u202f234,25")],
)
def test_it_shows_quantities_without_trailing_zeros(quantity: str, locale: str, shown: str) -> None:
    assert quantity_display(Decimal(quantity), locale) == shown


def test_it_shows_tax_rates_per_locale() -> None:
    assert tax_rate_display(Decimal("19.000"), "en") == "19%"
    assert tax_rate_display(Decimal("7.500"), "de") == "7,5\xa0%"


def test_it_formats_dates_per_locale() -> None:
    day = dt.date(2026, 3, 1)
    assert date_display(day, "en") == "Mar 1, 2026"
    assert date_display(day, "de") == "01.03.2026"
    assert date_display(None, "de") == ""


def test_it_never_puts_a_bad_colour_into_the_stylesheet() -> None:
    assert brand_color(Company(brand_color="#0f766e")) == "#0f766e"
    assert brand_color(Company(brand_color="red;}</style><script>")) == "#1d4ed8"


@pytest.mark.django_db
def test_it_builds_the_document_in_the_locale(tenant: Company, customer: Customer) -> None:
    invoice = factories.make_invoice(
        tenant, customer, currency="eur", lines=[("Beratung", "1.5", 100000, "19")]
    )
    doc = invoice_document(invoice=invoice, locale="de")
    assert [(line.quantity, line.unit_price, line.tax, line.total) for line in doc.lines] == [
        ("1,5", "1.000,00\xa0€", "285,00\xa0€", "1.785,00\xa0€")
    ]
    assert (doc.subtotal, doc.tax, doc.total, doc.amount_due) == (
        "1.500,00\xa0€",
        "285,00\xa0€",
        "1.785,00\xa0€",
        "1.785,00\xa0€",
    )
    assert doc.status.key == "open"
    assert doc.bill_to.name == "Ada Lovelace"
