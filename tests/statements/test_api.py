"""GET /api/v1/customers/<id>/statement."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from invoices import services
from invoices.models import Company, Customer
from invoices.services import api_key_create
from invoices.timezones import company_today
from payments import statements
from payments.services import payment_record_offline
from tests import factories

pytestmark = pytest.mark.django_db


def _url(customer: Customer, query: str = "") -> str:
    return f"/api/v1/customers/{customer.public_id}/statement{query}"


@pytest.fixture
def ledger(tenant: Company, customer: Customer) -> dict[str, Any]:
    today = company_today(tenant)
    first = statements.month_start(today, 2)
    invoice = factories.make_invoice(
        tenant, customer, lines=[("A", "1", 10000, "0")], issue_date=first, due_in_days=10
    )
    paid_at = dt.datetime.combine(first + dt.timedelta(days=3), dt.time(12), tzinfo=dt.UTC)
    payment_record_offline(invoice=invoice, amount=2500, method="cash", paid_at=paid_at)
    services.credit_note_create(company=tenant, customer=customer, currency="usd", amount=1000)
    factories.make_invoice(tenant, customer, lines=[("E", "1", 700, "0")], currency="eur")
    return {"today": today, "first": first, "invoice": invoice}


def test_it_answers_a_balance_forward_statement(
    api_client: Any, customer: Customer, ledger: dict[str, Any]
) -> None:
    month = ledger["first"].strftime("%Y-%m")
    response = api_client.get(_url(customer, f"?type=balance_forward&month={month}"))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["currency"] == "usd"
    assert body["currencies"] == ["eur", "usd"]
    assert body["from"] == ledger["first"].isoformat()
    assert body["opening_balance"] == 0
    assert body["closing_balance"] == 7500
    assert [
        (r["type"], r["number"], r["debit"], r["credit"], r["balance"]) for r in body["rows"]
    ] == [
        ("invoice", ledger["invoice"].number, 10000, 0, 10000),
        ("payment", ledger["invoice"].number, 0, 2500, 7500),
    ]
    assert set(body["rows"][0]) == {"date", "type", "number", "debit", "credit", "balance"}


def test_it_answers_an_open_item_statement(
    api_client: Any, customer: Customer, ledger: dict[str, Any]
) -> None:
    response = api_client.get(_url(customer, "?type=open_item&currency=USD"))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["as_of"] == ledger["today"].isoformat()
    assert [(r["type"], r["total"], r["amount_due"]) for r in body["rows"]] == [
        ("invoice", 10000, 7500),
        ("credit_note", 1000, -1000),
    ]
    assert body["closing_balance"] == 6500
    assert {"number", "issue_date", "due_date", "total", "amount_due"} <= set(body["rows"][0])


@pytest.mark.parametrize(
    "query",
    ["?type=nope", "?as_of=2020-02-30", "?month=13-2020", "?from=2999-01-01", "?currency=jpy"],
)
def test_it_refuses_bad_values_with_400(api_client: Any, customer: Customer, query: str) -> None:
    factories.make_invoice(customer.company, customer)
    response = api_client.get(_url(customer, query))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and error["message"] and error["field"]


def test_it_has_a_constant_query_count(
    api_client: Any,
    tenant: Company,
    customer: Customer,
    ledger: dict[str, Any],
    django_assert_num_queries: Any,
) -> None:
    api_client.get(_url(customer))  # stamps the key's use
    for _ in range(20):
        factories.make_invoice(tenant, customer, lines=[("More", "1", 100, "0")])
    # The key (with its company), the customer, then the ledger: invoices with their void
    # day, credit notes, payments, refunds, credit applications. Seven, whatever its size.
    with django_assert_num_queries(7):
        response = api_client.get(_url(customer, "?type=open_item"))
    assert response.status_code == 200
    assert len(response.json()["rows"]) == 22


def test_it_checks_ownership(client: Any, tenant: Company, other_tenant: Company) -> None:
    customer = factories.make_customer(tenant)
    key = api_key_create(company=other_tenant)[1]
    response = client.get(_url(customer), HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
