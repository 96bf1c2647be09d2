"""REST API: auth, tenant scoping on every object route, strict input, the error shape."""

from __future__ import annotations

from typing import Any

import pytest

from invoices.models import Company
from invoices.services import api_key_create, api_key_revoke
from tests import factories

pytestmark = pytest.mark.django_db


def _invoice_body(customer_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "customer": customer_id,
        "currency": "usd",
        "due_date": "2030-01-31",
        "lines": [
            {"description": "Work", "quantity": "1.5", "unit_amount": 1001, "tax_rate": "19"}
        ],
        **extra,
    }


class TestAuth:
    def test_it_refuses_a_missing_key(self, client: Any, tenant: Company) -> None:
        response = client.get("/api/v1/invoices")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"

    def test_it_refuses_a_wrong_key(self, client: Any, api_key: str) -> None:
        response = client.get("/api/v1/invoices", HTTP_AUTHORIZATION=f"Bearer {api_key}x")
        assert response.status_code == 401

    def test_it_refuses_a_revoked_key(self, client: Any, tenant: Company) -> None:
        key, raw = api_key_create(company=tenant)
        assert client.get("/api/v1/invoices", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
        api_key_revoke(key=key)
        assert client.get("/api/v1/invoices", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401


class TestCustomersAndInvoices:
    def test_it_creates_a_draft_invoice_with_exact_totals(self, api_client: Any) -> None:
        customer = api_client.post(
            "/api/v1/customers",
            {"name": "Ada", "email": "ada@example.com", "external_id": "A-1"},
            content_type="application/json",
        )
        assert customer.status_code == 201
        cus_id = customer.json()["id"]
        assert cus_id.startswith("cus_")
        response = api_client.post(
            "/api/v1/invoices", _invoice_body(cus_id), content_type="application/json"
        )
        assert response.status_code == 201
        body = response.json()
        assert body["id"].startswith("inv_")
        assert body["status"] == "draft"
        # 1.5 x 10.01 = 15.015 → 15.02 (half up); 19 % of 15.02 = 2.8538 → 2.85.
        assert (body["subtotal"], body["tax"], body["total"]) == (1502, 285, 1787)
        assert body["amount_due"] == 1787

    def test_it_rejects_unknown_fields_with_the_error_shape(
        self, api_client: Any, customer: Any
    ) -> None:
        response = api_client.post(
            "/api/v1/invoices",
            _invoice_body(customer.public_id, surprise=True),
            content_type="application/json",
        )
        assert response.status_code == 400
        assert response.json() == {
            "error": {
                "code": "unknown_field",
                "message": "Unknown field: surprise.",
                "field": "surprise",
            }
        }

    @pytest.mark.parametrize(
        ("patch", "field"),
        [
            ({"currency": "xyz"}, "currency"),
            ({"lines": []}, "lines"),
            ({"due_date": "not a date"}, "due_date"),
        ],
    )
    def test_it_rejects_bad_input_and_creates_nothing(
        self, api_client: Any, customer: Any, tenant: Company, patch: dict[str, Any], field: str
    ) -> None:
        response = api_client.post(
            "/api/v1/invoices",
            _invoice_body(customer.public_id, **patch),
            content_type="application/json",
        )
        assert response.status_code == 400
        assert response.json()["error"]["field"] == field
        assert not tenant.invoices.exists()

    def test_it_lists_with_filters_and_pagination(
        self, api_client: Any, tenant: Company, customer: Any
    ) -> None:
        for _ in range(3):
            factories.make_invoice(tenant, customer)
        factories.make_invoice(tenant, customer, status="draft")
        other_customer = factories.make_customer(tenant)
        factories.make_invoice(tenant, other_customer)
        body = api_client.get("/api/v1/invoices?status=open&page_size=2").json()
        assert body["total_count"] == 4
        assert len(body["data"]) == 2 and body["has_more"] is True
        body = api_client.get(f"/api/v1/invoices?customer={customer.public_id}&status=open").json()
        assert body["total_count"] == 3

    def test_it_finalizes_and_voids(self, api_client: Any, tenant: Company) -> None:
        invoice = factories.make_invoice(tenant, status="draft")
        response = api_client.post(f"/api/v1/invoices/{invoice.public_id}/finalize")
        assert response.json()["status"] == "open"
        # Finalizing twice is an illegal transition, answered with the error shape.
        again = api_client.post(f"/api/v1/invoices/{invoice.public_id}/finalize")
        assert again.status_code == 409 and again.json()["error"]["code"] == "invalid_status"
        assert (
            api_client.post(f"/api/v1/invoices/{invoice.public_id}/void").json()["status"] == "void"
        )

    def test_it_returns_the_same_share_link_while_live(
        self, api_client: Any, tenant: Company
    ) -> None:
        invoice = factories.make_invoice(tenant)
        first = api_client.post(f"/api/v1/invoices/{invoice.public_id}/share-link").json()
        second = api_client.post(f"/api/v1/invoices/{invoice.public_id}/share-link").json()
        assert first == second
        assert first["url"].endswith(f"/invoice/{first['token']}")
        assert len(first["token"]) >= 43
        revoked = api_client.delete(f"/api/v1/invoices/{invoice.public_id}/share-link")
        assert revoked.status_code == 204
        third = api_client.post(f"/api/v1/invoices/{invoice.public_id}/share-link").json()
        assert third["token"] != first["token"]

    @pytest.mark.parametrize("route", ["invoices/{inv}/share-link", "customers/{cus}/portal-link"])
    def test_it_refuses_an_expiry_in_the_past(
        self, api_client: Any, tenant: Company, route: str
    ) -> None:
        invoice = factories.make_invoice(tenant)
        url = "/api/v1/" + route.format(inv=invoice.public_id, cus=invoice.customer.public_id)
        response = api_client.post(
            url, {"expires_at": "2001-01-01T00:00:00Z"}, content_type="application/json"
        )
        assert response.status_code == 400
        assert response.json() == {
            "error": {
                "code": "expires_at_in_past",
                "message": "The link's expiry must be in the future.",
                "field": "expires_at",
            }
        }
        assert not invoice.share_links.exists() and not invoice.customer.share_links.exists()
        future = api_client.post(
            url, {"expires_at": "2999-01-01T00:00:00Z"}, content_type="application/json"
        )
        assert future.status_code == 200 and future.json()["expires_at"].startswith("2999")

    def test_it_refuses_to_share_a_draft(self, api_client: Any, tenant: Company) -> None:
        invoice = factories.make_invoice(tenant, status="draft")
        response = api_client.post(f"/api/v1/invoices/{invoice.public_id}/share-link")
        assert response.status_code == 409


def _object_routes() -> list[tuple[str, str]]:
    """Every API route that names a customer, an invoice or a webhook endpoint, read from the
    OpenAPI schema, so a route added later is covered without editing this test."""
    from api.app import api

    routes = []
    for path, operations in api.get_openapi_schema()["paths"].items():
        if any(name in path for name in ("{invoice_id}", "{customer_id}", "{endpoint_id}")):
            routes += [(method, path) for method in operations]
    return sorted(routes)


OBJECT_ROUTES = _object_routes()


def test_the_ownership_check_covers_the_contract_routes() -> None:
    assert ("get", "/api/v1/invoices/{invoice_id}/views") in OBJECT_ROUTES
    assert ("post", "/api/v1/customers/{customer_id}/portal-link") in OBJECT_ROUTES
    assert ("patch", "/api/v1/invoices/{invoice_id}") in OBJECT_ROUTES
    assert ("delete", "/api/v1/webhook-endpoints/{endpoint_id}") in OBJECT_ROUTES
    assert len(OBJECT_ROUTES) >= 19


@pytest.mark.parametrize(("method", "route"), OBJECT_ROUTES)
def test_it_checks_ownership(
    api_client: Any, other_tenant: Company, method: str, route: str
) -> None:
    """Every object route answers 404 for another company's objects, and changes nothing."""
    from invoices.webhooks.services import endpoint_create

    theirs = factories.make_invoice(other_tenant, status="draft")
    their_endpoint, _ = endpoint_create(
        company=other_tenant, url="https://hooks.example.com/x", events_=["invoice.paid"]
    )
    url = route.format(
        customer_id=theirs.customer.public_id,
        invoice_id=theirs.public_id,
        endpoint_id=their_endpoint.public_id,
    )
    # An empty JSON object: a valid body for every route that takes one (all PATCH fields are
    # optional), so the answer is about the object, not the body.
    body = "{}" if method in ("post", "patch", "put") else None
    response = getattr(api_client, method)(url, body, content_type="application/json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    theirs.refresh_from_db()
    assert theirs.status == "draft"
    assert not theirs.share_links.exists()
    their_endpoint.refresh_from_db()
    assert their_endpoint.previous_secret_encrypted == ""


def test_it_lists_only_the_keys_company(api_client: Any, other_tenant: Company) -> None:
    factories.make_invoice(other_tenant)
    assert api_client.get("/api/v1/invoices").json()["total_count"] == 0


def test_it_serves_the_openapi_schema_and_docs(client: Any, api_key: str) -> None:
    schema = client.get("/api/v1/openapi.json", HTTP_AUTHORIZATION=f"Bearer {api_key}")
    assert schema.status_code == 200
    assert schema.json()["openapi"].startswith("3.")
    assert "/api/v1/invoices/{invoice_id}/finalize" in schema.json()["paths"]
    assert client.get("/api/v1/docs").status_code == 200


def test_the_schema_documents_the_error_answers_of_every_route() -> None:
    from api.app import api

    schema = api.get_openapi_schema()
    assert schema["components"]["schemas"]["Error"]["required"] == ["error"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            statuses = ["400", "401", "429", "500"]
            statuses += ["404"] if "{" in path else []
            statuses += ["409"] if method in ("post", "patch", "delete") else []
            for status in statuses:
                content = operation["responses"][status]["content"]["application/json"]
                assert content["schema"] == {"$ref": "#/components/schemas/Error"}, (method, path)


@pytest.mark.parametrize(
    "route", ["invoices/{invoice_id}/share-link", "customers/{customer_id}/portal-link"]
)
def test_the_schema_accepts_the_optional_link_body(
    api_client: Any, tenant: Company, route: str
) -> None:
    """The link calls take an optional expiry as JSON or a form field: the schema says so."""
    from api.app import api

    body = api.get_openapi_schema()["paths"][f"/api/v1/{route}"]["post"]["requestBody"]
    assert body["required"] is False
    assert set(body["content"]) == {"application/json", "application/x-www-form-urlencoded"}
    invoice = factories.make_invoice(tenant)
    url = "/api/v1/" + route.format(
        invoice_id=invoice.public_id, customer_id=invoice.customer.public_id
    )
    form = api_client.post(url, {"expires_at": "2999-01-01T00:00:00Z"})
    assert form.status_code == 200 and form.json()["expires_at"].startswith("2999")


def test_the_schema_states_the_list_bounds() -> None:
    from api.app import api

    params = api.get_openapi_schema()["paths"]["/api/v1/invoices"]["get"]["parameters"]
    page_size = next(param for param in params if param["name"] == "page_size")
    assert page_size["schema"]["maximum"] == 100 and page_size["schema"]["minimum"] == 1
