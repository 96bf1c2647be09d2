"""Paying an invoice issued in Stripe, from our invoice page: a PaymentIntent for the
invoice's Stripe customer attached to the invoice (or Stripe's hosted invoice page when the
company prefers it); the invoice's state follows Stripe's invoice.paid."""

from __future__ import annotations

import io
from typing import Any

import pytest
import stripe
from django.core.management import call_command

from invoices.models import Invoice
from payments.gates import invoice_is_stripe_native
from payments.models import Payment, StripeConnection
from stripe_emulator.server import EmulatorServer
from tests.factories import make_invoice, share_token
from tests.stripe_sync.conftest import stripe_events, stripe_invoice


@pytest.fixture
def imported(connected: StripeConnection, sdk: stripe.StripeClient) -> tuple[Invoice, Any]:
    ada = sdk.v1.customers.create(params={"name": "Ada Lovelace", "email": "ada@example.com"})
    theirs = stripe_invoice(sdk, ada.id, [("Audit", 1, 12_500), ("Travel", 2, 1_000)])
    call_command("stripe_sync", "tenant", stdout=io.StringIO())
    return Invoice.objects.get(stripe_invoice_id=theirs.id), theirs


def test_the_imported_invoice_page_opens_with_stripes_number(
    client: Any, imported: tuple[Invoice, Any]
) -> None:
    invoice, theirs = imported
    response = client.get(f"/invoice/{share_token(invoice)}")
    assert response.status_code == 200
    assert theirs.number in response.content.decode()
    assert "Travel" in response.content.decode()


def test_a_stripe_invoice_paid_from_our_page_is_paid_in_stripe_and_here(
    client: Any,
    imported: tuple[Invoice, Any],
    sdk: stripe.StripeClient,
    emulator: EmulatorServer,
    deliver: Any,
) -> None:
    invoice, theirs = imported
    token = share_token(invoice)

    started = client.post(f"/invoice/{token}/pay/card", {"amount": "145.00"})

    assert started.status_code == 201, started.content
    intent_id = started.json()["client_secret"].split("_secret_")[0]
    intent = sdk.v1.payment_intents.retrieve(intent_id)
    assert intent.customer == theirs.customer
    # What Stripe.js does in the browser.
    sdk.v1.payment_intents.confirm(intent_id, params={"payment_method": "pm_card_visa"})
    paid_in_stripe = sdk.v1.invoices.retrieve(theirs.id)
    assert paid_in_stripe.status == "paid"
    assert paid_in_stripe.amount_paid == 14_500
    for event in stripe_events(emulator, ("payment_intent.succeeded", "invoice.paid")):
        deliver(event)

    invoice.refresh_from_db()
    assert invoice.status == "paid"
    assert invoice.amount_paid == 14_500
    # Recorded once, though both our page's intent and Stripe's invoice told us.
    assert Payment.objects.filter(invoice=invoice).count() == 1


def test_stripe_invoices_are_paid_in_full_where_stripe_takes_one_payment(
    client: Any, imported: tuple[Invoice, Any]
) -> None:
    invoice, _theirs = imported
    response = client.post(f"/invoice/{share_token(invoice)}/pay/card", {"amount": "10.00"})
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "amount"


def test_without_the_card_form_or_by_preference_pay_goes_to_stripes_invoice_page(
    client: Any, imported: tuple[Invoice, Any], connected: StripeConnection
) -> None:
    invoice, _theirs = imported
    token = share_token(invoice)

    response = client.post(f"/invoice/{token}/pay", {"amount": "145.00"})

    assert response.status_code == 303
    assert response["Location"] == invoice.stripe_hosted_url
    StripeConnection.objects.update(pay_on_stripe_hosted_page=True)
    refused = client.post(f"/invoice/{token}/pay/card", {"amount": "145.00"})
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "pay_on_stripe_page"


def test_the_predicate_tells_stripe_invoices_from_ours(
    imported: tuple[Invoice, Any], connected: StripeConnection
) -> None:
    invoice, _theirs = imported
    assert invoice_is_stripe_native(invoice)
    assert not invoice_is_stripe_native(make_invoice(connected.company))
