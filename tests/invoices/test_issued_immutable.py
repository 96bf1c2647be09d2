"""An issued invoice never changes what it says, in any face: the service refuses, the admin
shows it read-only, and only the one list (internal notes, the comment mode, the partial-payment
settings while nothing is paid) may still change."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from invoices import services
from invoices.models import Company, Customer, Invoice
from payments import services as payment_services
from tests import factories

pytestmark = pytest.mark.django_db


def _change_post(client: Any, invoice: Invoice, fields: dict[str, Any]) -> Any:
    """Post the invoice's change form as the page renders it, with ``fields`` changed."""
    url = reverse("admin:invoices_invoice_change", args=[invoice.pk])
    context = client.get(url).context
    data: dict[str, Any] = {}
    adminform = context["adminform"].form
    for name, field in adminform.fields.items():
        value = adminform.initial.get(name, field.initial)
        if value is None or value is False:
            continue
        data[name] = getattr(value, "pk", value)
    for inline in context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        data |= {management.add_prefix(k): v for k, v in management.initial.items()}
        for form in formset.initial_forms:
            for name in form.fields:
                value = form.initial.get(name)
                if value is not None:
                    data[form.add_prefix(name)] = getattr(value, "pk", value)
    return client.post(url, data | fields)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("currency", "eur"),
        ("due_date", dt.date(2040, 1, 1)),
        ("issue_date", dt.date(2020, 1, 1)),
        ("notes", "Changed"),
    ],
)
def test_it_refuses_to_change_what_an_issued_invoice_says(
    tenant: Company, customer: Customer, field: str, value: Any
) -> None:
    invoice = factories.make_invoice(tenant, customer)
    with pytest.raises(services.InvoiceIssued) as caught:
        services.invoice_update(invoice=invoice, changes={field: value})
    assert (caught.value.status, caught.value.code, caught.value.field) == (409, "immutable", field)
    fresh = Invoice.objects.get(pk=invoice.pk)
    assert getattr(fresh, field) == getattr(invoice, field) != value


def test_it_refuses_another_customer_and_new_lines(tenant: Company, customer: Customer) -> None:
    invoice = factories.make_invoice(tenant, customer)
    other = factories.make_customer(tenant)
    with pytest.raises(services.InvoiceIssued):
        services.invoice_update(invoice=invoice, changes={"customer": other})
    line = services.LineInput(description="x", quantity=Decimal(1), unit_amount=1)
    with pytest.raises(services.InvoiceIssued):
        services.invoice_update(invoice=invoice, changes={}, lines=[line])


def test_it_lets_the_listed_fields_change_after_issue(tenant: Company, customer: Customer) -> None:
    invoice = factories.make_invoice(tenant, customer)
    services.invoice_update(
        invoice=invoice,
        changes={
            "internal_notes": "Called them",
            "comment_write_mode": "email_code",
            "allow_partial_payments": True,
            "minimum_payment": 500,
        },
    )
    fresh = Invoice.objects.get(pk=invoice.pk)
    assert (fresh.internal_notes, fresh.comment_write_mode) == ("Called them", "email_code")
    assert (fresh.allow_partial_payments, fresh.minimum_payment) == (True, 500)


def test_it_freezes_the_partial_payment_settings_once_something_is_paid(
    tenant: Company, customer: Customer
) -> None:
    invoice = factories.make_invoice(tenant, customer, lines=[("Work", "1", 10000, "0")])
    payment_services.payment_record_offline(invoice=invoice, amount=2000, method="cash")
    invoice.refresh_from_db()
    with pytest.raises(services.InvoiceIssued):
        services.invoice_update(invoice=invoice, changes={"allow_partial_payments": False})
    services.invoice_update(invoice=invoice, changes={"internal_notes": "Paid a part"})
    assert Invoice.objects.get(pk=invoice.pk).internal_notes == "Paid a part"


def test_it_still_changes_a_draft_in_anything(tenant: Company, customer: Customer) -> None:
    invoice = factories.make_invoice(tenant, customer, status="draft")
    services.invoice_update(invoice=invoice, changes={"currency": "EUR", "notes": "Hi"})
    fresh = Invoice.objects.get(pk=invoice.pk)
    assert (fresh.currency, fresh.notes) == ("eur", "Hi")


def test_it_shows_an_issued_invoice_read_only_in_the_admin(
    client: Any, staff: Any, tenant: Company, customer: Customer
) -> None:
    invoice = factories.make_invoice(tenant, customer)
    client.force_login(staff)
    response = client.get(reverse("admin:invoices_invoice_change", args=[invoice.pk]))
    form = response.context["adminform"].form
    for name in ("customer", "currency", "issue_date", "due_date", "notes", "company"):
        assert name not in form.fields
    assert {"internal_notes", "allow_partial_payments", "minimum_payment"} <= set(form.fields)
    lines = next(
        f for f in response.context["inline_admin_formsets"] if f.formset.prefix == "lines"
    )
    assert not lines.has_change_permission and not lines.has_add_permission
    assert len(lines.formset.forms) == 1  # shown, without inputs
    html = response.content.decode()
    assert 'name="lines-0-unit_amount"' not in html and 'name="currency"' not in html


def test_it_keeps_the_currency_of_a_paid_invoice_whatever_is_posted(
    client: Any, staff: Any, tenant: Company, customer: Customer
) -> None:
    invoice = factories.make_invoice(tenant, customer, lines=[("Work", "1", 5000, "0")])
    payment_services.payment_record_offline(invoice=invoice, amount=5000, method="cash")
    client.force_login(staff)
    response = _change_post(client, invoice, {"currency": "eur", "internal_notes": "Paid by cash"})
    assert response.status_code == 302
    fresh = Invoice.objects.get(pk=invoice.pk)
    assert (fresh.currency, fresh.status, fresh.internal_notes) == ("usd", "paid", "Paid by cash")


def test_it_offers_supported_currencies_stored_lower_case(
    client: Any, staff: Any, tenant: Company, customer: Customer
) -> None:
    invoice = factories.make_invoice(tenant, customer, status="draft")
    client.force_login(staff)
    url = reverse("admin:invoices_invoice_change", args=[invoice.pk])
    field = client.get(url).context["adminform"].form.fields["currency"]
    choices = dict(field.choices)
    assert choices["jpy"] == "JPY" and choices["kwd"] == "KWD" and "JPY" not in choices
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        field.clean("XYZ")
