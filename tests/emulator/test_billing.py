"""The emulator's Stripe Billing objects, through the real SDK: customers and their
case-sensitive email filter, invoices and their paginated lines, paying (a card, out of band,
an attached PaymentIntent), voiding, deleting drafts, credit notes, subscriptions."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from stripe_emulator.server import EmulatorServer

KEY = "sk_test_billing_emulator"


@pytest.fixture
def sdk(emulator: EmulatorServer) -> stripe.StripeClient:
    return stripe.StripeClient(KEY, base_addresses={"api": emulator.base_url})


def _invoice(sdk: stripe.StripeClient, customer: str, lines: int) -> Any:
    invoice = sdk.v1.invoices.create(
        params={"customer": customer, "collection_method": "send_invoice", "days_until_due": 7}
    )
    for n in range(lines):
        sdk.v1.invoice_items.create(
            params={
                "customer": customer,
                "invoice": invoice.id,
                "amount": 100 * (n + 1),
                "currency": "usd",
                "description": f"Line {n}",
            }
        )
    return invoice


def test_customers_are_listed_by_email_case_sensitively(sdk: stripe.StripeClient) -> None:
    sdk.v1.customers.create(params={"email": "Ada@Example.com"})
    assert len(sdk.v1.customers.list(params={"email": "Ada@Example.com"}).data) == 1
    assert sdk.v1.customers.list(params={"email": "ada@example.com"}).data == []


def test_invoices_embed_ten_lines_and_page_through_the_rest(sdk: stripe.StripeClient) -> None:
    customer = sdk.v1.customers.create(params={"name": "Ada"})
    invoice = sdk.v1.invoices.finalize_invoice(_invoice(sdk, customer.id, 23).id)
    assert invoice.status == "open"
    assert invoice.number
    assert len(invoice.lines.data) == 10
    assert invoice.lines.has_more
    lines = sdk.v1.invoices.line_items.list(invoice.id, params={"limit": 5})
    assert [line.description for line in lines.auto_paging_iter()] == [
        f"Line {n}" for n in range(23)
    ]
    assert invoice.total == sum(100 * (n + 1) for n in range(23))


def test_an_attached_payment_intent_pays_the_invoice(sdk: stripe.StripeClient) -> None:
    customer = sdk.v1.customers.create(params={"name": "Ada"})
    invoice = sdk.v1.invoices.finalize_invoice(_invoice(sdk, customer.id, 2).id)
    intent = sdk.v1.payment_intents.create(
        params={
            "amount": invoice.amount_remaining,
            "currency": "usd",
            "customer": customer.id,
            "payment_method_types": ["card"],
        }
    )
    sdk.v1.invoices.attach_payment(invoice.id, params={"payment_intent": intent.id})
    assert sdk.v1.invoices.retrieve(invoice.id).status == "open"
    sdk.v1.payment_intents.confirm(intent.id, params={"payment_method": "pm_card_visa"})
    paid = sdk.v1.invoices.retrieve(invoice.id, params={"expand": ["payments"]})
    assert (paid.status, paid.amount_paid, paid.amount_remaining) == ("paid", 300, 0)
    assert paid.payments.data[0].payment.payment_intent == intent.id
    with pytest.raises(stripe.InvalidRequestError):
        sdk.v1.invoices.attach_payment(invoice.id, params={"payment_intent": intent.id})


def test_states_drafts_and_credit_notes(sdk: stripe.StripeClient) -> None:
    customer = sdk.v1.customers.create(params={"name": "Ada"})
    draft = _invoice(sdk, customer.id, 1)
    assert sdk.v1.invoices.delete(draft.id).deleted
    void = sdk.v1.invoices.finalize_invoice(_invoice(sdk, customer.id, 1).id)
    assert sdk.v1.invoices.void_invoice(void.id).status == "void"
    bad = sdk.v1.invoices.finalize_invoice(_invoice(sdk, customer.id, 1).id)
    assert sdk.v1.invoices.mark_uncollectible(bad.id).status == "uncollectible"
    assert sdk.v1.invoices.pay(bad.id, params={"paid_out_of_band": True}).status == "paid"
    credited = sdk.v1.invoices.finalize_invoice(_invoice(sdk, customer.id, 3).id)
    note = sdk.v1.credit_notes.create(params={"invoice": credited.id, "amount": 250})
    assert sdk.v1.invoices.retrieve(credited.id).amount_remaining == 600 - 250
    assert sdk.v1.credit_notes.void_credit_note(note.id).status == "void"
    assert sdk.v1.invoices.retrieve(credited.id).amount_remaining == 600
    statuses = {i.status for i in sdk.v1.invoices.list(params={"limit": 100}).data}
    assert statuses == {"void", "paid", "open"}


def test_subscriptions_create_their_invoices(sdk: stripe.StripeClient) -> None:
    customer = sdk.v1.customers.create(params={"name": "Ada"})
    price = sdk.v1.prices.create(
        params={
            "currency": "eur",
            "unit_amount": 900,
            "recurring": {"interval": "month"},
            "product_data": {"name": "Pro"},
        }
    )
    subscription = sdk.v1.subscriptions.create(
        params={
            "customer": customer.id,
            "items": [{"price": price.id}],
            "collection_method": "send_invoice",
            "days_until_due": 7,
        }
    )
    invoice = sdk.v1.invoices.retrieve(subscription.latest_invoice)
    assert invoice.billing_reason == "subscription_create"
    assert invoice.parent.subscription_details.subscription == subscription.id
    assert invoice.status == "open"
    assert invoice.total == 900
    listed = sdk.v1.invoices.list(params={"subscription": subscription.id}).data
    assert [i.id for i in listed] == [invoice.id]
