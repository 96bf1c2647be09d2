"""Issued documents never change: an invoice keeps the buyer and seller it was issued to."""

from __future__ import annotations

from typing import Any

import pytest

from invoices.document import document_fingerprint, invoice_document
from invoices.models import Company, Customer, Invoice
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def billed(tenant: Company) -> Customer:
    return factories.make_customer(
        tenant,
        name="Ada Ltd",
        email="ap@ada.example",
        address_line1="1 Analytical Way",
        city="London",
        tax_id="GB123456789",
        buyer_reference="PO-42",
    )


def _loaded(invoice: Invoice) -> Invoice:
    return Invoice.objects.select_related("company", "customer").get(pk=invoice.pk)


def test_it_snapshots_the_parties_at_finalization(tenant: Company, billed: Customer) -> None:
    tenant.address, tenant.tax_id = "Seller Street 1", "DE999"
    tenant.save()
    invoice = factories.make_invoice(tenant, billed)
    invoice = _loaded(invoice)
    assert invoice.buyer_snapshot["tax_id"] == "GB123456789"
    assert invoice.buyer_snapshot["buyer_reference"] == "PO-42"
    assert invoice.seller_snapshot["address_lines"] == ["Seller Street 1"]


def test_editing_the_customer_and_company_never_rewrites_an_issued_invoice(
    client: Any, tenant: Company, billed: Customer
) -> None:
    invoice = factories.make_invoice(tenant, billed)
    token = factories.share_token(invoice)
    before = document_fingerprint(
        invoice=_loaded(invoice), language="en", surface="page", lines=None, logo=""
    )
    Customer.objects.filter(pk=billed.pk).update(
        name="Renamed Co", tax_id="XX", address_line1="Elsewhere"
    )
    Company.objects.filter(pk=tenant.pk).update(name="New Seller Name", tax_id="NEW")
    loaded = _loaded(invoice)
    doc = invoice_document(invoice=loaded, locale="en")
    assert (doc.bill_to.name, doc.bill_to.tax_id) == ("Ada Ltd", "GB123456789")
    assert doc.bill_to.address_lines[0] == "1 Analytical Way"
    assert doc.seller.name == "Tenant Ltd"
    after = document_fingerprint(invoice=loaded, language="en", surface="page", lines=None, logo="")
    assert before == after
    page = client.get(f"/invoice/{token}").content.decode()
    assert "Ada Ltd" in page and "Renamed Co" not in page
    assert "PO-42" in page


def test_a_draft_shows_the_live_details(tenant: Company, billed: Customer) -> None:
    invoice = factories.make_invoice(tenant, billed, status="draft")
    Customer.objects.filter(pk=billed.pk).update(name="Renamed Co")
    doc = invoice_document(invoice=_loaded(invoice), locale="en")
    assert doc.bill_to.name == "Renamed Co"
    assert _loaded(invoice).buyer_snapshot == {}
