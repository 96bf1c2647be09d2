"""GET /api/v1/customers/<id>/balance: outstanding, overdue and credit per currency."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from invoices import services
from invoices.models import Company, Customer
from invoices.services import api_key_create
from payments.services import payment_record_offline
from tests import factories

pytestmark = pytest.mark.django_db


def test_it_sums_outstanding_overdue_and_credit_per_currency(
    api_client: Any, tenant: Company, customer: Customer, django_assert_num_queries: Any
) -> None:
    past = timezone.localdate() - dt.timedelta(days=60)
    late = factories.make_invoice(
        tenant, customer, lines=[("A", "1", 5000, "0")], issue_date=past, due_in_days=10
    )
    payment_record_offline(invoice=late, amount=1000, method="cash")
    factories.make_invoice(tenant, customer, lines=[("B", "1", 2000, "0")])
    factories.make_invoice(tenant, customer, lines=[("C", "1", 700, "0")], currency="eur")
    factories.make_invoice(tenant, customer, lines=[("Draft", "1", 9999, "0")], status="draft")
    factories.make_invoice(tenant, customer, lines=[("Void", "1", 9999, "0")], status="void")
    note = services.credit_note_create(
        company=tenant, customer=customer, currency="usd", amount=800
    )
    services.credit_note_apply(note=note, invoice=late, amount=300)
    api_client.get(f"/api/v1/customers/{customer.public_id}/balance")  # stamps the key's use
    # The key (with its company), the customer, the invoice sums, the credit sums: the same
    # four whatever the number of invoices and currencies.
    with django_assert_num_queries(4):
        response = api_client.get(f"/api/v1/customers/{customer.public_id}/balance")
    assert response.status_code == 200
    assert response.json()["data"] == [
        {"currency": "eur", "outstanding": 700, "overdue": 0, "credit_available": 0},
        {"currency": "usd", "outstanding": 5700, "overdue": 3700, "credit_available": 500},
    ]


def test_it_checks_ownership(client: Any, tenant: Company, other_tenant: Company) -> None:
    customer = factories.make_customer(tenant)
    key = api_key_create(company=other_tenant)[1]
    response = client.get(
        f"/api/v1/customers/{customer.public_id}/balance", HTTP_AUTHORIZATION=f"Bearer {key}"
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
