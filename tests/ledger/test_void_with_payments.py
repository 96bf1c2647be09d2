"""Voiding an invoice that holds payments: refused (409) until told what becomes of the money,
then refunded (through Stripe or recorded) or kept as customer credit, never stranded. The API
and the admin use the one service, payments.services.invoice_void."""

from __future__ import annotations

from typing import Any

import pytest

from core.errors import ApplicationError
from invoices.models import Company, CreditNote, Customer, Invoice, InvoiceStatus
from payments import services
from payments.models import Payment, StripeConnection
from stripe_emulator.server import EmulatorServer
from tests import factories
from tests.payments.conftest import confirm_with_test_card, emulator_events

pytestmark = pytest.mark.django_db


def _partly_paid(tenant: Company, customer: Customer, paid: int = 4000) -> Invoice:
    invoice = factories.make_invoice(tenant, customer, lines=[("Work", "1", 10000, "0")])
    services.payment_record_offline(invoice=invoice, amount=paid, method="bank_transfer")
    invoice.refresh_from_db()
    return invoice


def _void(api_client: Any, invoice: Invoice, body: dict[str, Any] | None = None) -> Any:
    return api_client.post(
        f"/api/v1/invoices/{invoice.public_id}/void",
        body if body is not None else {},
        content_type="application/json",
    )


def test_it_refuses_to_void_an_invoice_with_payments_without_a_choice(
    api_client: Any, tenant: Company, customer: Customer
) -> None:
    invoice = _partly_paid(tenant, customer)
    response = _void(api_client, invoice)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "has_payments"
    assert response.json()["error"]["field"] == "payments"
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid) == ("open", 4000)
    assert not CreditNote.objects.exists()


def test_it_refuses_an_empty_post_too(api_client: Any, tenant: Company, customer: Customer) -> None:
    invoice = _partly_paid(tenant, customer)
    response = api_client.post(f"/api/v1/invoices/{invoice.public_id}/void")
    assert response.status_code == 409


def test_it_refuses_an_unknown_choice(api_client: Any, tenant: Company, customer: Customer) -> None:
    invoice = _partly_paid(tenant, customer)
    response = _void(api_client, invoice, {"payments": "keep"})
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "payments"
    invoice.refresh_from_db()
    assert invoice.status == "open"


def test_it_voids_an_invoice_without_payments_with_no_body(
    api_client: Any, tenant: Company, customer: Customer
) -> None:
    invoice = factories.make_invoice(tenant, customer)
    response = api_client.post(f"/api/v1/invoices/{invoice.public_id}/void")
    assert response.status_code == 200
    assert response.json()["status"] == "void"


def test_it_turns_the_payments_into_customer_credit(
    api_client: Any, tenant: Company, customer: Customer
) -> None:
    invoice = _partly_paid(tenant, customer)
    response = _void(api_client, invoice, {"payments": "credit"})
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["amount_due"]) == ("void", 0)
    note = CreditNote.objects.get()
    assert (note.customer_id, note.currency, note.amount, note.invoice_id) == (
        customer.pk,
        "usd",
        4000,
        invoice.pk,
    )
    assert note.status == "issued" and note.remaining == 4000
    # The credit is the customer's to spend on another invoice.
    balance = api_client.get(f"/api/v1/customers/{customer.public_id}/balance").json()
    assert balance["data"][0]["credit_available"] == 4000


def test_it_never_refunds_money_already_kept_as_credit(
    api_client: Any, tenant: Company, customer: Customer
) -> None:
    invoice = _partly_paid(tenant, customer)
    assert _void(api_client, invoice, {"payments": "credit"}).status_code == 200
    payment = Payment.objects.get(invoice=invoice)
    response = api_client.post(
        f"/api/v1/payments/{payment.public_id}/refund", {}, content_type="application/json"
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invoice_void"
    payment.refresh_from_db()
    assert payment.amount_refunded == 0
    assert CreditNote.objects.get().remaining == 4000


def test_it_refunds_offline_payments_as_recorded_refunds(
    api_client: Any, tenant: Company, customer: Customer
) -> None:
    invoice = _partly_paid(tenant, customer)
    response = _void(api_client, invoice, {"payments": "refund"})
    assert response.status_code == 200, response.content
    payment = Payment.objects.get(invoice=invoice)
    invoice.refresh_from_db()
    assert (payment.amount_refunded, payment.status) == (4000, "refunded")
    assert (invoice.status, invoice.amount_paid) == ("void", 0)
    assert not CreditNote.objects.exists()


def test_it_refunds_stripe_payments_through_stripe(
    api_client: Any,
    tenant: Company,
    customer: Customer,
    connected: StripeConnection,
    emulator: EmulatorServer,
    deliver: Any,
) -> None:
    invoice = factories.make_invoice(tenant, customer, lines=[("Work", "1", 10000, "0")])
    invoice.allow_partial_payments = True
    invoice.save(update_fields=["allow_partial_payments"])
    attempt, _secret = services.card_intent_start(invoice=invoice, amount=3000)
    confirm_with_test_card(emulator.base_url, attempt.provider_id)
    for event in emulator_events(emulator.base_url):
        deliver(event)
    response = _void(api_client, invoice, {"payments": "refund"})
    assert response.status_code == 200, response.content
    refunded = [e for e in emulator_events(emulator.base_url) if e["type"] == "charge.refunded"]
    assert len(refunded) == 1
    payment = Payment.objects.get(invoice=invoice)
    assert payment.amount_refunded == 3000
    assert Invoice.objects.get(pk=invoice.pk).status == "void"


def test_it_refuses_a_paid_invoice_before_refunding_anything(
    tenant: Company, customer: Customer
) -> None:
    invoice = _partly_paid(tenant, customer, paid=10000)
    assert invoice.status == InvoiceStatus.PAID
    with pytest.raises(ApplicationError) as caught:
        services.invoice_void(invoice=invoice, payments="refund")
    assert caught.value.status == 409
    assert Payment.objects.get(invoice=invoice).amount_refunded == 0


def test_it_guards_the_lower_void_as_well(tenant: Company, customer: Customer) -> None:
    from invoices import services as invoice_services

    invoice = _partly_paid(tenant, customer)
    with pytest.raises(invoice_services.VoidNeedsPaymentsChoice):
        invoice_services.invoice_void(invoice=invoice)
    assert Invoice.objects.get(pk=invoice.pk).status == "open"


def test_it_checks_ownership(api_client: Any, other_tenant: Company) -> None:
    other = factories.make_invoice(other_tenant, factories.make_customer(other_tenant))
    assert _void(api_client, other, {"payments": "credit"}).status_code == 404
