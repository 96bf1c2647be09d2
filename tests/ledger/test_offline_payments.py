"""Offline payments: the API, the admin, the one recording function and its row lock."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.urls import reverse

from invoices.models import Company, Customer, Invoice, InvoiceStatus, InvoiceStatusChange
from payments import services
from payments.models import Payment
from tests import factories
from tests.concurrency import in_threads

pytestmark = pytest.mark.django_db


def _invoice(tenant: Company, customer: Customer, amount: int = 10000, **kw: Any) -> Invoice:
    return factories.make_invoice(tenant, customer, lines=[("Work", "1", amount, "0")], **kw)


def _post(api_client: Any, invoice: Invoice, body: dict[str, Any]) -> Any:
    return api_client.post(
        f"/api/v1/invoices/{invoice.public_id}/payments", body, content_type="application/json"
    )


class TestApi:
    def test_it_records_a_bank_transfer(
        self, api_client: Any, tenant: Company, customer: Customer
    ) -> None:
        invoice = _invoice(tenant, customer)
        response = _post(
            api_client,
            invoice,
            {
                "amount": 4000,
                "method": "bank_transfer",
                "paid_at": "2020-01-05",
                "reference": "TX-1",
            },
        )
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["id"].startswith("pay_")
        assert (body["amount"], body["method"], body["reference"]) == (
            4000,
            "bank_transfer",
            "TX-1",
        )
        assert body["paid_at"].startswith("2020-01-05")
        invoice.refresh_from_db()
        assert (invoice.amount_paid, invoice.status) == (4000, InvoiceStatus.OPEN)

    def test_it_marks_the_invoice_paid_with_a_status_change_row(
        self, api_client: Any, tenant: Company, customer: Customer
    ) -> None:
        invoice = _invoice(tenant, customer)
        assert _post(api_client, invoice, {"amount": 10000, "method": "cash"}).status_code == 201
        invoice.refresh_from_db()
        assert invoice.status == InvoiceStatus.PAID
        change = InvoiceStatusChange.objects.filter(invoice=invoice).last()
        assert change is not None and (change.from_status, change.to_status) == ("open", "paid")

    def test_it_refuses_more_than_is_owed(
        self, api_client: Any, tenant: Company, customer: Customer
    ) -> None:
        invoice = _invoice(tenant, customer)
        _post(api_client, invoice, {"amount": 6000, "method": "check"})
        response = _post(api_client, invoice, {"amount": 4001, "method": "check"})
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "over_amount_due"
        assert "40.00" in response.json()["error"]["message"]
        invoice.refresh_from_db()
        assert invoice.amount_paid == 6000
        assert Payment.objects.filter(invoice=invoice).count() == 1

    @pytest.mark.parametrize(
        "body",
        [
            {"amount": 0, "method": "cash"},
            {"amount": -100, "method": "cash"},
            {"amount": 12.5, "method": "cash"},
            {"amount": "1000", "method": "cash"},
            {"amount": True, "method": "cash"},
            {"amount": 1000, "method": "card"},
            {"amount": 1000, "method": "barter"},
            {"amount": 1000},
            {"amount": 1000, "method": "cash", "colour": "red"},
            {"amount": 1000, "method": "cash", "paid_at": "2999-01-01"},
        ],
    )
    def test_it_refuses_bad_input_and_changes_nothing(
        self, api_client: Any, tenant: Company, customer: Customer, body: dict[str, Any]
    ) -> None:
        invoice = _invoice(tenant, customer)
        response = _post(api_client, invoice, body)
        assert response.status_code in (400, 422), response.content
        assert set(response.json()["error"]) == {"code", "message", "field"}
        invoice.refresh_from_db()
        assert invoice.amount_paid == 0
        assert not Payment.objects.filter(invoice=invoice).exists()

    def test_it_refuses_a_void_invoice(
        self, api_client: Any, tenant: Company, customer: Customer
    ) -> None:
        invoice = _invoice(tenant, customer, status="void")
        response = _post(api_client, invoice, {"amount": 100, "method": "cash"})
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "not_payable"

    def test_it_checks_ownership(self, client: Any, tenant: Company, other_tenant: Company) -> None:
        invoice = _invoice(tenant, factories.make_customer(tenant))
        from invoices.services import api_key_create

        other_key = api_key_create(company=other_tenant)[1]
        response = client.post(
            f"/api/v1/invoices/{invoice.public_id}/payments",
            {"amount": 100, "method": "cash"},
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {other_key}",
        )
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
        assert not Payment.objects.exists()

    def test_it_lists_offline_payments_with_stripe_ones(
        self, api_client: Any, tenant: Company, customer: Customer
    ) -> None:
        invoice = _invoice(tenant, customer)
        _post(api_client, invoice, {"amount": 1000, "method": "other"})
        body = api_client.get(f"/api/v1/invoices/{invoice.public_id}/payments").json()
        assert [p["method"] for p in body["data"]] == ["other"]
        assert body["total_paid"] == 1000


class TestAdmin:
    def _url(self, invoice: Invoice) -> str:
        return reverse("admin:invoices_invoice_record_payment", args=[invoice.pk])

    def test_it_records_a_payment_from_the_admin(
        self, client: Any, staff: Any, tenant: Company, customer: Customer
    ) -> None:
        invoice = _invoice(tenant, customer)
        client.force_login(staff)
        assert client.get(self._url(invoice)).status_code == 200
        response = client.post(
            self._url(invoice),
            {"amount": "25.50", "method": "bank_transfer", "paid_on": "", "reference": "R"},
        )
        assert response.status_code == 302
        payment = Payment.objects.get(invoice=invoice)
        assert (payment.amount, payment.source, payment.recorded_by) == (2550, "admin", staff)

    def test_it_shows_the_amount_error_and_records_nothing(
        self, client: Any, staff: Any, tenant: Company, customer: Customer
    ) -> None:
        invoice = _invoice(tenant, customer)
        client.force_login(staff)
        response = client.post(self._url(invoice), {"amount": "100.01", "method": "cash"})
        assert response.status_code == 200
        assert "at most the amount due" in response.content.decode()
        response = client.post(self._url(invoice), {"amount": "12,5", "method": "cash"})
        assert response.status_code == 200
        assert not Payment.objects.exists()

    def test_it_checks_ownership(self, client: Any, outsider: Any, tenant: Company) -> None:
        invoice = _invoice(tenant, factories.make_customer(tenant))
        client.force_login(outsider)
        response = client.post(self._url(invoice), {"amount": "1.00", "method": "cash"})
        assert response.status_code == 404
        assert not Payment.objects.exists()

    def test_it_refuses_read_only_staff(self, client: Any, viewer: Any, tenant: Company) -> None:
        invoice = _invoice(tenant, factories.make_customer(tenant))
        client.force_login(viewer)
        response = client.post(self._url(invoice), {"amount": "1.00", "method": "cash"})
        assert response.status_code == 403
        assert not Payment.objects.exists()


@pytest.mark.postgres_only
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks")
@pytest.mark.django_db(transaction=True)
def test_it_keeps_ten_parallel_recordings_within_the_total(tenant: Company) -> None:
    invoice = _invoice(tenant, factories.make_customer(tenant), amount=10000)
    # Ten clerks each record 30.00 of the 100.00 at the same moment: only three fit.
    results = in_threads(
        *[
            (lambda: services.payment_record_offline(invoice=invoice, amount=3000, method="cash"))
            for _ in range(10)
        ]
    )
    recorded = [r for r in results if isinstance(r, Payment)]
    refused = [r for r in results if isinstance(r, services.OfflinePaymentRefused)]
    assert (len(recorded), len(refused)) == (3, 7), results
    invoice.refresh_from_db()
    assert invoice.amount_paid == 9000 <= invoice.total
    assert sum(p.amount for p in Payment.objects.filter(invoice=invoice)) == 9000
