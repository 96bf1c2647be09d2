"""Staff type and read money in major units of the invoice's currency (1,200.00; ¥ has no
decimals, KWD three), parsed by the one parser; a new invoice opens filled in."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from invoices.models import Company, Customer
from tests import factories

pytestmark = pytest.mark.django_db


def _add(client: Any, tenant: Company, customer: Customer, **fields: Any) -> Any:
    url = reverse("admin:invoices_invoice_add")
    management: dict[str, Any] = {}
    for inline in client.get(url).context["inline_admin_formsets"]:
        form = inline.formset.management_form
        management |= {form.add_prefix(name): value for name, value in form.initial.items()}
    data = management | {
        "company": tenant.pk,
        "customer": customer.pk,
        "currency": "usd",
        "issue_date": "2030-01-01",
        "due_date": "2030-01-31",
        "lines-TOTAL_FORMS": "1",
        "lines-0-position": "0",
        "lines-0-description": "Consulting",
        "lines-0-quantity": "1",
        "lines-0-tax_rate": "0",
    }
    return client.post(url, data | fields)


@pytest.mark.parametrize(
    ("currency", "typed", "minor"),
    [
        ("usd", "1,200.00", 120000),
        ("usd", "9.99", 999),
        ("jpy", "1,200", 1200),
        ("kwd", "1.250", 1250),
    ],
)
def test_it_reads_unit_amounts_in_major_units(
    client: Any,
    staff: Any,
    tenant: Company,
    customer: Customer,
    currency: str,
    typed: str,
    minor: int,
) -> None:
    client.force_login(staff)
    response = _add(client, tenant, customer, currency=currency, **{"lines-0-unit_amount": typed})
    assert response.status_code == 302, response.context["errors"]
    invoice = tenant.invoices.get()
    assert (invoice.currency, invoice.total) == (currency, minor)


@pytest.mark.parametrize(
    ("currency", "typed"), [("usd", "1.999"), ("jpy", "12.5"), ("usd", "12,50"), ("usd", "abc")]
)
def test_it_refuses_amounts_the_currency_cannot_hold(
    client: Any, staff: Any, tenant: Company, customer: Customer, currency: str, typed: str
) -> None:
    client.force_login(staff)
    response = _add(client, tenant, customer, currency=currency, **{"lines-0-unit_amount": typed})
    assert response.status_code == 200
    assert not tenant.invoices.exists()


def test_it_reads_the_minimum_payment_in_major_units(
    client: Any, staff: Any, tenant: Company, customer: Customer
) -> None:
    client.force_login(staff)
    response = _add(
        client,
        tenant,
        customer,
        allow_partial_payments="on",
        minimum_payment="50.00",
        **{"lines-0-unit_amount": "1,000.00"},
    )
    assert response.status_code == 302, response.context["errors"]
    assert tenant.invoices.get().minimum_payment == 5000


def test_it_shows_amounts_formatted_on_the_change_page(
    client: Any, staff: Any, tenant: Company, customer: Customer
) -> None:
    draft = factories.make_invoice(
        tenant, customer, status="draft", lines=[("Work", "1", 120000, "0")]
    )
    issued = factories.make_invoice(tenant, customer, lines=[("Work", "2", 1570950, "0")])
    client.force_login(staff)
    html = client.get(reverse("admin:invoices_invoice_change", args=[draft.pk])).content.decode()
    assert 'value="1,200.00"' in html
    html = client.get(reverse("admin:invoices_invoice_change", args=[issued.pk])).content.decode()
    assert "$31,419.00" in html and "$15,709.50" in html
    assert "3141900" not in html, html[html.index("3141900") - 600 : html.index("3141900")]


def test_it_opens_a_new_invoice_filled_in(client: Any, staff: Any, tenant: Company) -> None:
    tenant.default_currency = "eur"
    tenant.payment_terms_days = 14
    tenant.save()
    client.force_login(staff)
    response = client.get(reverse("admin:invoices_invoice_add"))
    form = response.context["adminform"].form
    today = timezone.localdate()
    assert form.initial["company"] == tenant.pk
    assert form.initial["currency"] == "eur"
    assert form.initial["issue_date"] == today
    assert form.initial["due_date"] == today + dt.timedelta(days=14)
    lines = next(
        f for f in response.context["inline_admin_formsets"] if f.formset.prefix == "lines"
    )
    assert len(lines.formset.forms) == 3


def test_it_defaults_payment_terms_to_thirty_days(tenant: Company) -> None:
    assert tenant.payment_terms_days == 30
