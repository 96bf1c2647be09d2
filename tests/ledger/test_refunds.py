"""Refunds: offline payments recorded, Stripe payments refunded through the emulator; the
invoice owes the refunded amount again and a paid invoice reopens."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from invoices.models import Company, Customer, Invoice, InvoiceStatus, InvoiceStatusChange
from invoices.services import api_key_create
from payments import services
from payments.models import Payment, Refund, StripeConnection
from stripe_emulator.server import EmulatorServer
from tests import factories
from tests.payments.conftest import confirm_with_test_card, emulator_events

pytestmark = pytest.mark.django_db


def _paid_offline(tenant: Company, customer: Customer, amount: int = 10000) -> Payment:
    invoice = factories.make_invoice(tenant, customer, lines=[("Work", "1", amount, "0")])
    return services.payment_record_offline(invoice=invoice, amount=amount, method="bank_transfer")


def _refund(api_client: Any, payment: Payment, body: dict[str, Any] | None = None) -> Any:
    return api_client.post(
        f"/api/v1/payments/{payment.public_id}/refund",
        body or {},
        content_type="application/json",
    )


def test_it_refunds_an_offline_payment_and_reopens_the_invoice(
    api_client: Any, tenant: Company, customer: Customer
) -> None:
    payment = _paid_offline(tenant, customer)
    assert payment.invoice.status == InvoiceStatus.PAID
    response = _refund(api_client, payment, {"amount": 2500})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["amount_refunded"], body["status"]) == (2500, "partially_refunded")
    assert [r["amount"] for r in body["refunds"]] == [2500]
    invoice = Invoice.objects.get(pk=payment.invoice_id)
    assert (invoice.status, invoice.amount_paid, invoice.amount_due) == ("open", 7500, 2500)
    change = InvoiceStatusChange.objects.filter(invoice=invoice).last()
    assert change is not None and (change.from_status, change.to_status) == ("paid", "open")
    assert invoice.paid_at is None


def test_it_refunds_the_rest_by_default_and_then_refuses(
    api_client: Any, tenant: Company, customer: Customer
) -> None:
    payment = _paid_offline(tenant, customer)
    _refund(api_client, payment, {"amount": 1000})
    response = _refund(api_client, payment)
    assert response.json()["amount_refunded"] == 10000
    assert response.json()["status"] == "refunded"
    again = _refund(api_client, payment)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "already_refunded"
    assert Refund.objects.filter(payment=payment).count() == 2


@pytest.mark.parametrize(("amount", "status"), [(0, 400), (-5, 400), (10001, 409)])
def test_it_refuses_a_bad_amount_and_changes_nothing(
    api_client: Any, tenant: Company, customer: Customer, amount: int, status: int
) -> None:
    payment = _paid_offline(tenant, customer)
    response = _refund(api_client, payment, {"amount": amount})
    assert response.status_code == status
    payment.refresh_from_db()
    assert payment.amount_refunded == 0
    assert not Refund.objects.exists()


def test_it_checks_ownership(client: Any, tenant: Company, other_tenant: Company) -> None:
    payment = _paid_offline(tenant, factories.make_customer(tenant))
    other_key = api_key_create(company=other_tenant)[1]
    response = client.post(
        f"/api/v1/payments/{payment.public_id}/refund",
        {},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {other_key}",
    )
    assert response.status_code == 404
    assert not Refund.objects.exists()


def test_it_refunds_a_stripe_payment_through_stripe_once(
    api_client: Any,
    tenant: Company,
    customer: Customer,
    connected: StripeConnection,
    emulator: EmulatorServer,
    deliver: Any,
) -> None:
    invoice = factories.make_invoice(tenant, customer, lines=[("Work", "1", 4000, "0")])
    attempt, _secret = services.card_intent_start(invoice=invoice, amount=4000)
    confirm_with_test_card(emulator.base_url, attempt.provider_id)
    for event in emulator_events(emulator.base_url):
        deliver(event)
    payment = Payment.objects.get(invoice=invoice)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    response = _refund(api_client, payment, {"amount": 1500})
    assert response.status_code == 200, response.content
    # Stripe refunded it: the emulator raised charge.refunded; delivering it changes nothing.
    refunded = [e for e in emulator_events(emulator.base_url) if e["type"] == "charge.refunded"]
    assert len(refunded) == 1
    deliver(refunded[0])
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert (payment.amount_refunded, invoice.amount_paid, invoice.status) == (1500, 2500, "open")
    assert Refund.objects.get(payment=payment).provider_refund_id.startswith("re_")


class TestAdmin:
    def test_it_refunds_from_the_admin(
        self, client: Any, staff: Any, tenant: Company, customer: Customer
    ) -> None:
        payment = _paid_offline(tenant, customer)
        client.force_login(staff)
        url = reverse("admin:payments_payment_refund", args=[payment.pk])
        assert client.get(url).status_code == 200
        assert client.post(url, {"amount": "10.00"}).status_code == 302
        refund = Refund.objects.get(payment=payment)
        assert (refund.amount, refund.actor) == (1000, staff)

    def test_it_checks_ownership(self, client: Any, outsider: Any, tenant: Company) -> None:
        payment = _paid_offline(tenant, factories.make_customer(tenant))
        client.force_login(outsider)
        url = reverse("admin:payments_payment_refund", args=[payment.pk])
        assert client.post(url, {"amount": ""}).status_code == 404
        assert not Refund.objects.exists()

    def test_the_bulk_action_skips_payments_the_user_cannot_manage(
        self, client: Any, viewer: Any, tenant: Company
    ) -> None:
        payment = _paid_offline(tenant, factories.make_customer(tenant))
        client.force_login(viewer)
        client.post(
            reverse("admin:payments_payment_changelist"),
            {"action": "refund_in_full", "_selected_action": [payment.pk]},
        )
        assert not Refund.objects.exists()
