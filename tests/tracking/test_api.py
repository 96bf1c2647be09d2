"""GET /api/v1/invoices/<id>/views: the contract's shape, scoped to the key's company."""

from __future__ import annotations

from typing import Any

import pytest

from invoices.models import Company
from tests import factories
from tracking.services import Visit, view_record

pytestmark = pytest.mark.django_db

BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


def test_it_returns_stats_and_the_view_log(api_client: Any, tenant: Company) -> None:
    invoice = factories.make_invoice(tenant)
    view_record(invoice=invoice, visit=Visit(ip="203.0.113.1", user_agent=BROWSER), source="email")
    view_record(invoice=invoice, visit=Visit(ip="203.0.113.2", user_agent=BROWSER))
    view_record(invoice=invoice, visit=Visit(ip="203.0.113.2", user_agent="Twitterbot/1.0"))

    response = api_client.get(f"/api/v1/invoices/{invoice.public_id}/views")

    assert response.status_code == 200
    body = response.json()
    assert body["view_count"] == 2
    assert body["unique_ips"] == 2
    assert body["first_viewed_at"] <= body["last_viewed_at"]
    # Every recorded open is listed (the scanner's too); only view_count says which counted.
    assert len(body["views"]) == 3
    # Exactly the contract's keys, no more: {"viewed_at", "source", "ip", "user_agent"}.
    assert [set(view) for view in body["views"]] == [
        {"viewed_at", "source", "ip", "user_agent"}
    ] * 3
    newest = body["views"][0]
    assert (newest["ip"], newest["source"], newest["user_agent"]) == (
        "203.0.113.2",
        "link",
        "Twitterbot/1.0",
    )
    assert body["views"][-1]["source"] == "email"


def test_it_answers_zeros_for_an_unviewed_invoice(api_client: Any, tenant: Company) -> None:
    invoice = factories.make_invoice(tenant)
    body = api_client.get(f"/api/v1/invoices/{invoice.public_id}/views").json()
    assert body == {
        "view_count": 0,
        "first_viewed_at": None,
        "last_viewed_at": None,
        "unique_ips": 0,
        "views": [],
    }


def test_it_limits_the_log(api_client: Any, tenant: Company) -> None:
    invoice = factories.make_invoice(tenant)
    for n in range(5):
        view_record(invoice=invoice, visit=Visit(ip=f"203.0.113.{n}", user_agent=BROWSER))
    body = api_client.get(f"/api/v1/invoices/{invoice.public_id}/views?limit=2").json()
    assert body["view_count"] == 5
    assert len(body["views"]) == 2


def test_it_checks_ownership(api_client: Any, other_tenant: Company) -> None:
    invoice = factories.make_invoice(other_tenant)
    view_record(invoice=invoice, visit=Visit(ip="203.0.113.1", user_agent=BROWSER))

    response = api_client.get(f"/api/v1/invoices/{invoice.public_id}/views")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert "203.0.113.1" not in response.content.decode()


def test_it_requires_an_api_key(client: Any, tenant: Company) -> None:
    invoice = factories.make_invoice(tenant)
    assert client.get(f"/api/v1/invoices/{invoice.public_id}/views").status_code == 401


def test_it_uses_a_constant_number_of_queries(
    api_client: Any, tenant: Company, django_assert_max_num_queries: Any
) -> None:
    invoice = factories.make_invoice(tenant)
    for n in range(30):
        view_record(invoice=invoice, visit=Visit(ip=f"203.0.113.{n}", user_agent=BROWSER))
    # 1 the API key with its company, 2 its last-used stamp, 3 the invoice, 4 the statistics,
    # 5 the view log. Thirty views must not add queries.
    with django_assert_max_num_queries(5):
        response = api_client.get(f"/api/v1/invoices/{invoice.public_id}/views")
    assert len(response.json()["views"]) == 30


def test_it_documents_the_route_in_openapi(api_client: Any) -> None:
    schema = api_client.get("/api/v1/openapi.json").json()
    operation = schema["paths"]["/api/v1/invoices/{invoice_id}/views"]["get"]
    response_schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert response_schema["$ref"].endswith("/ViewsOut")
    assert {"view_count", "first_viewed_at", "last_viewed_at", "unique_ips", "views"} <= set(
        schema["components"]["schemas"]["ViewsOut"]["properties"]
    )
    assert set(schema["components"]["schemas"]["ViewOut"]["properties"]) == {
        "viewed_at",
        "source",
        "ip",
        "user_agent",
    }
