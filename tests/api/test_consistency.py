"""Per-key rate limits with Retry-After, and an OpenAPI schema that describes every route's
errors, headers and examples."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from api import gate
from invoices.models import Company
from invoices.services import api_key_create

pytestmark = pytest.mark.django_db


def test_it_limits_each_key_and_says_when_to_retry(
    api_client: Any, tenant: Company, monkeypatch: Any
) -> None:
    monkeypatch.setattr(gate, "RATE_LIMIT", "3/m")
    answers = [api_client.get("/api/v1/invoices") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    limited = answers[-1]
    assert limited.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited["Retry-After"]) <= 60
    # Another key of the same company has its own allowance.
    other = Client(HTTP_AUTHORIZATION=f"Bearer {api_key_create(company=tenant)[1]}")
    assert other.get("/api/v1/invoices").status_code == 200


def test_a_limited_post_does_not_use_up_its_idempotency_key(
    api_client: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(gate, "RATE_LIMIT", "1/m")
    body = {"name": "Ada", "email": "ada@example.com"}
    api_client.get("/api/v1/customers")
    limited = api_client.post(
        "/api/v1/customers", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    assert limited.status_code == 429
    monkeypatch.setattr(gate, "RATE_LIMIT", "100/m")
    created = api_client.post(
        "/api/v1/customers", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    assert created.status_code == 201


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    from api.app import api

    schema = api.get_openapi_schema()
    return [
        (method, path, operation)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
    ]


OPERATIONS = _operations()


def test_the_schema_lists_every_contract_route() -> None:
    routes = {(method, path) for method, path, _ in OPERATIONS}
    for route in [
        ("get", "/api/v1/customers"),
        ("patch", "/api/v1/customers/{customer_id}"),
        ("patch", "/api/v1/invoices/{invoice_id}"),
        ("delete", "/api/v1/invoices/{invoice_id}"),
        ("post", "/api/v1/invoices/{invoice_id}/mark-uncollectible"),
        ("get", "/api/v1/company"),
        ("patch", "/api/v1/company"),
        ("post", "/api/v1/webhook-endpoints"),
        ("get", "/api/v1/webhook-endpoints"),
        ("delete", "/api/v1/webhook-endpoints/{endpoint_id}"),
    ]:
        assert route in routes


@pytest.mark.parametrize(("method", "path", "operation"), OPERATIONS)
def test_the_schema_describes_each_route(method: str, path: str, operation: dict[str, Any]) -> None:
    responses = operation["responses"]
    for status in ("401", "429", "500"):
        assert responses[status]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"
        }
    assert "Retry-After" in responses["429"]["headers"]
    if "{" in path:
        assert "404" in responses
    if method in ("post", "patch"):
        assert "400" in responses and "409" in responses
    headers = [p["name"] for p in operation.get("parameters", []) if p["in"] == "header"]
    assert ("Idempotency-Key" in headers) == (method == "post")
    assert operation.get("summary")
    assert "```sh\ncurl" in operation["description"]
    assert "```python" in operation["description"]
