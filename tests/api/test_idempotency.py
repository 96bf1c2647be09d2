"""Idempotency-Key on POST: the first answer is replayed, a changed request is a 409, keys are
per company, and two requests racing with one key do the work once (PostgreSQL, threads)."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from api.idempotency import idempotency_keys_purge
from api.models import IdempotencyKey
from invoices.models import Company, Customer
from invoices.services import api_key_create
from tests import factories
from tests.concurrency import in_threads

JSON = "application/json"
ADA = {"name": "Ada", "email": "ada@example.com"}


def _post(
    client: Any, body: dict[str, Any], key: str | None, path: str = "/api/v1/customers"
) -> Any:
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(path, body, content_type=JSON, **headers)


@pytest.mark.django_db
class TestIdempotencyKeys:
    def test_it_replays_the_first_answer(self, api_client: Any, tenant: Company) -> None:
        first = _post(api_client, ADA, "key-1")
        second = _post(api_client, ADA, "key-1")
        assert first.status_code == second.status_code == 201
        assert first.json() == second.json()
        assert second["Idempotent-Replayed"] == "true"
        assert Customer.objects.filter(company=tenant).count() == 1

    def test_it_does_the_work_again_without_a_key(self, api_client: Any, tenant: Company) -> None:
        _post(api_client, ADA, None)
        _post(api_client, ADA, None)
        assert Customer.objects.filter(company=tenant).count() == 2

    def test_it_refuses_the_key_with_another_body(self, api_client: Any, tenant: Company) -> None:
        _post(api_client, ADA, "key-1")
        response = _post(api_client, {**ADA, "name": "Bob"}, "key-1")
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "idempotency_key_reused"
        assert Customer.objects.filter(company=tenant).count() == 1

    def test_it_refuses_the_key_on_another_route(self, api_client: Any, tenant: Company) -> None:
        invoice = factories.make_invoice(tenant, status="draft")
        api_client.post(f"/api/v1/invoices/{invoice.public_id}/finalize", HTTP_IDEMPOTENCY_KEY="k")
        response = api_client.post(
            f"/api/v1/invoices/{invoice.public_id}/void", HTTP_IDEMPOTENCY_KEY="k"
        )
        assert response.status_code == 409
        invoice.refresh_from_db()
        assert invoice.status == "open"

    def test_it_replays_a_transition_instead_of_a_409(
        self, api_client: Any, tenant: Company
    ) -> None:
        invoice = factories.make_invoice(tenant, status="draft")
        url = f"/api/v1/invoices/{invoice.public_id}/finalize"
        first = api_client.post(url, HTTP_IDEMPOTENCY_KEY="fin")
        again = api_client.post(url, HTTP_IDEMPOTENCY_KEY="fin")
        assert first.status_code == again.status_code == 200
        assert again.json()["status"] == "open"

    def test_it_keeps_keys_per_company(
        self, api_client: Any, client: Any, tenant: Company, other_tenant: Company
    ) -> None:
        _post(api_client, ADA, "shared")
        other = Client(HTTP_AUTHORIZATION=f"Bearer {api_key_create(company=other_tenant)[1]}")
        response = _post(other, {**ADA, "name": "Someone else"}, "shared")
        assert response.status_code == 201
        assert response.json()["name"] == "Someone else"
        assert Customer.objects.filter(company=other_tenant).count() == 1

    def test_it_replays_a_refusal_too(self, api_client: Any, tenant: Company) -> None:
        first = _post(api_client, {"name": "Ada"}, "bad")
        again = _post(api_client, {"name": "Ada"}, "bad")
        assert first.status_code == again.status_code == 400
        assert first.json() == again.json()

    @pytest.mark.parametrize("key", ["", "x" * 256])
    def test_it_refuses_a_bad_key(self, api_client: Any, tenant: Company, key: str) -> None:
        response = _post(api_client, ADA, key)
        assert response.status_code == 400
        assert response.json()["error"]["field"] == "Idempotency-Key"
        assert not Customer.objects.exists()

    def test_it_accepts_a_key_of_255_characters(self, api_client: Any) -> None:
        assert _post(api_client, ADA, "k" * 255).status_code == 201

    def test_it_forgets_a_key_after_24_hours(self, api_client: Any, tenant: Company) -> None:
        _post(api_client, ADA, "old")
        IdempotencyKey.objects.update(created_at=timezone.now() - dt.timedelta(hours=25))
        response = _post(api_client, {**ADA, "name": "New"}, "old")
        assert response.status_code == 201
        assert Customer.objects.filter(company=tenant).count() == 2
        IdempotencyKey.objects.update(created_at=timezone.now() - dt.timedelta(hours=25))
        assert idempotency_keys_purge() == 1

    def test_it_lets_a_failed_request_be_retried(
        self, api_client: Any, tenant: Company, monkeypatch: Any
    ) -> None:
        from api import customers

        real = customers.services.customer_create
        calls = iter([RuntimeError("database hiccup")])

        def flaky(**kwargs: Any) -> Any:
            error = next(calls, None)
            if error is not None:
                raise error
            return real(**kwargs)

        monkeypatch.setattr(customers.services, "customer_create", flaky)
        failed = _post(api_client, ADA, "retry-me")
        assert failed.status_code == 500
        assert failed.json()["error"]["code"] == "server_error"
        assert _post(api_client, ADA, "retry-me").status_code == 201

    def test_it_leaves_gets_alone(self, api_client: Any) -> None:
        response = api_client.get("/api/v1/customers", HTTP_IDEMPOTENCY_KEY="x" * 300)
        assert response.status_code == 200


@pytest.mark.postgres_only
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL: concurrent transactions"
)
@pytest.mark.django_db(transaction=True)
def test_two_racing_requests_with_one_key_do_the_work_once(
    tenant: Company, api_key: str, monkeypatch: Any
) -> None:
    from api import customers

    real = customers.services.customer_create

    def slow(**kwargs: Any) -> Any:
        time.sleep(0.3)  # both requests are surely in flight at once
        return real(**kwargs)

    monkeypatch.setattr(customers.services, "customer_create", slow)

    def call() -> Any:
        client = Client(HTTP_AUTHORIZATION=f"Bearer {api_key}")
        response = _post(client, ADA, "race")
        return response.status_code, response.json()

    first, second = in_threads(call, call)
    assert first == second
    assert first[0] == 201
    assert Customer.objects.filter(company=tenant).count() == 1
