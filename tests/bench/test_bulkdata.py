"""The benchmarks' bulk data: every copied row is a whole, consistent object that the customer
pages open through its share or portal link, like one the services made."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client

from bench import bulkdata
from invoices.models import Customer, Invoice, LineItem, ShareLink
from payments.models import Payment


@pytest.fixture
def dataset(db: Any, settings: Any, tmp_path: Any) -> bulkdata.Dataset:
    if connection.vendor != "postgresql":
        pytest.skip("the bulk data is built with PostgreSQL's generate_series")
    settings.MEDIA_ROOT = tmp_path
    return bulkdata.build(customers=3, per_customer=4)


def test_copies_are_whole_invoices_with_their_lines_payments_and_links(
    dataset: bulkdata.Dataset,
) -> None:
    bulk = Invoice.objects.filter(public_id__startswith="inv_bench")
    # 3 customers x 4, and the measured customer's 500.
    assert bulk.count() == 3 * 4 + bulkdata.BIG_CUSTOMER_INVOICES
    assert dataset.invoices == bulk.count() + 2  # and the two templates
    assert LineItem.objects.filter(invoice__in=bulk).count() == 2 * bulk.count()
    paid = bulk.filter(status="paid")
    assert paid.exists() and bulk.filter(status="open").exists()
    for invoice in paid[:20]:
        payment = Payment.objects.get(invoice=invoice)
        assert payment.amount == invoice.total == invoice.amount_paid
        assert payment.paid_at == invoice.paid_at
    big = Customer.objects.get(pk=dataset.big_customer_id)
    assert big.invoices.count() == bulkdata.BIG_CUSTOMER_INVOICES
    live = ShareLink.objects.filter(revoked_at__isnull=True)
    assert live.filter(kind="invoice", invoice__in=bulk).count() == bulk.count()
    assert live.filter(kind="portal", customer__public_id__startswith="cus_bench").count() == 4


def test_computed_tokens_open_each_customers_own_pages(dataset: bulkdata.Dataset) -> None:
    client = Client()
    for number in (1, 3):
        (invoice_id,) = bulkdata.invoice_ids(dataset, [number])
        page = client.get(f"/invoice/{bulkdata.invoice_token(invoice_id)}")
        assert page.status_code == 200
        assert bulkdata.invoice_number(dataset, number) in page.text
        assert f"Customer {number}" in page.text
        (customer_id,) = bulkdata.customer_ids([number])
        portal = client.get(f"/portal/{bulkdata.portal_token(customer_id)}")
        assert portal.status_code == 200
        assert bulkdata.invoice_number(dataset, number) in portal.text
    measured = client.get(f"/portal/{bulkdata.portal_token(dataset.big_customer_id)}/invoices.csv")
    assert measured.status_code == 200
    # The header row and one row per invoice.
    assert len(measured.content.decode("utf-8-sig").strip().splitlines()) == 501


def test_a_built_database_is_kept(dataset: bulkdata.Dataset) -> None:
    again = bulkdata.build(customers=3, per_customer=4)
    assert again == dataset
