"""The invoice change page offers its actions as buttons, by status and by the user's
capability in the invoice's company (a read-only member sees none); each button runs the same
tenant-checked action or service as the list and the API."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from invoices.models import Company, CreditNote, Customer, Invoice
from payments import services as payment_services
from tests import factories

pytestmark = pytest.mark.django_db


def _buttons(client: Any, invoice: Invoice) -> set[str]:
    response = client.get(reverse("admin:invoices_invoice_change", args=[invoice.pk]))
    names = {b["name"] for b in response.context["object_buttons"]}
    if response.context["share_pdf_url"]:
        names.add("share_pdf")
    return names


def test_it_offers_finalize_and_void_on_a_draft(
    client: Any, staff: Any, tenant: Company, customer: Customer
) -> None:
    client.force_login(staff)
    assert _buttons(client, factories.make_invoice(tenant, customer, status="draft")) == {
        "finalize",
        "void",
    }


def test_it_offers_the_open_invoice_actions(
    client: Any, staff: Any, tenant: Company, customer: Customer
) -> None:
    invoice = factories.make_invoice(tenant, customer, lines=[("Work", "1", 10000, "0")])
    payment_services.payment_record_offline(invoice=invoice, amount=1000, method="cash")
    client.force_login(staff)
    assert _buttons(client, invoice) == {
        "mark_uncollectible",
        "send_invoice_by_email",
        "record_payment",
        "refund",
        "void",
        "share_pdf",
    }


def test_it_offers_nothing_on_a_void_invoice_but_sharing(
    client: Any, staff: Any, tenant: Company, customer: Customer
) -> None:
    invoice = factories.make_invoice(tenant, customer)
    factories.services.invoice_void(invoice=invoice)
    client.force_login(staff)
    assert _buttons(client, invoice) == {"share_pdf"}


def test_it_offers_a_read_only_member_no_button(
    client: Any, viewer: Any, tenant: Company, customer: Customer
) -> None:
    invoice = factories.make_invoice(tenant, customer, lines=[("Work", "1", 10000, "0")])
    payment_services.payment_record_offline(invoice=invoice, amount=1000, method="cash")
    client.force_login(viewer)
    assert _buttons(client, invoice) == set()
    url = reverse("admin:invoices_invoice_object_action", args=[invoice.pk, "mark_uncollectible"])
    assert client.post(url).status_code == 403
    assert client.post(reverse("admin:invoices_invoice_void", args=[invoice.pk])).status_code == 403
    assert Invoice.objects.get(pk=invoice.pk).status == "open"


def test_it_finalizes_from_the_button(
    client: Any, staff: Any, tenant: Company, customer: Customer
) -> None:
    invoice = factories.make_invoice(tenant, customer, status="draft")
    client.force_login(staff)
    url = reverse("admin:invoices_invoice_object_action", args=[invoice.pk, "finalize"])
    response = client.post(url)
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:invoices_invoice_change", args=[invoice.pk])
    assert Invoice.objects.get(pk=invoice.pk).status == "open"
    # Only the declared object actions run this way.
    bad = reverse("admin:invoices_invoice_object_action", args=[invoice.pk, "delete_selected"])
    assert client.post(bad).status_code == 403


def test_it_asks_what_becomes_of_the_payments_when_voiding(
    client: Any, staff: Any, tenant: Company, customer: Customer
) -> None:
    invoice = factories.make_invoice(tenant, customer, lines=[("Work", "1", 10000, "0")])
    payment_services.payment_record_offline(invoice=invoice, amount=2500, method="cash")
    client.force_login(staff)
    url = reverse("admin:invoices_invoice_void", args=[invoice.pk])
    page = client.get(url).content.decode()
    assert 'name="payments"' in page and "$25.00" in page
    assert client.post(url).status_code == 200  # no choice: the form asks again
    assert Invoice.objects.get(pk=invoice.pk).status == "open"
    assert client.post(url, {"payments": "credit"}).status_code == 302
    assert Invoice.objects.get(pk=invoice.pk).status == "void"
    assert CreditNote.objects.get().amount == 2500


def test_it_checks_ownership(
    client: Any, outsider: Any, tenant: Company, customer: Customer
) -> None:
    invoice = factories.make_invoice(tenant, customer)
    client.force_login(outsider)
    assert client.post(reverse("admin:invoices_invoice_void", args=[invoice.pk])).status_code == 404
    url = reverse("admin:invoices_invoice_object_action", args=[invoice.pk, "mark_uncollectible"])
    assert client.post(url).status_code == 404
