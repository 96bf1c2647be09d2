"""Live sync: Stripe's events re-fetch the object and upsert it only when newer, whatever
the order, however often they arrive; other accounts' events are ignored; the periodic
reconciliation fills gaps that lost deliveries leave."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
import stripe
from django.core.management import call_command
from django.utils import timezone

from invoices.models import Invoice
from payments.models import Payment, StripeConnection, WebhookEvent, WebhookEventStatus
from payments.stripe_sync import upsert
from payments.tasks import stripe_reconcile_task
from stripe_emulator.server import EmulatorServer
from tests.stripe_sync.conftest import stripe_events, stripe_invoice


def _sync() -> None:
    call_command("stripe_sync", "tenant", stdout=io.StringIO())


@pytest.fixture
def ada(sdk: stripe.StripeClient) -> Any:
    return sdk.v1.customers.create(params={"name": "Ada Lovelace", "email": "ada@example.com"})


def test_an_invoice_paid_in_stripe_after_the_import_shows_paid_once_its_webhook_arrives(
    connected: StripeConnection,
    sdk: stripe.StripeClient,
    ada: Any,
    emulator: EmulatorServer,
    deliver: Any,
    client: Any,
) -> None:
    invoice = stripe_invoice(sdk, ada.id, [("Audit", 1, 120_000)])
    _sync()
    assert Invoice.objects.get(stripe_invoice_id=invoice.id).status == "open"

    sdk.v1.invoices.pay(invoice.id, params={"payment_method": "pm_card_visa"})
    for event in stripe_events(emulator, ("invoice.paid",)):
        deliver(event)

    ours = Invoice.objects.get(stripe_invoice_id=invoice.id)
    assert ours.status == "paid"
    assert ours.amount_paid == 120_000
    assert ours.amount_due == 0
    payment = Payment.objects.get(invoice=ours)
    assert payment.amount == 120_000
    assert payment.provider_payment_intent_id.startswith("pi_")


def test_reordered_and_duplicated_events_end_in_stripes_latest_state(
    connected: StripeConnection,
    sdk: stripe.StripeClient,
    ada: Any,
    emulator: EmulatorServer,
    deliver: Any,
) -> None:
    _sync()  # nothing yet; from now on the webhooks keep the company in sync
    invoice = stripe_invoice(sdk, ada.id, [(f"Line {n}", 1, 1_000) for n in range(12)])
    sdk.v1.invoices.pay(invoice.id, params={"paid_out_of_band": True})
    events = stripe_events(emulator, ("invoice.created", "invoice.finalized", "invoice.paid"))
    assert [e["type"] for e in events] == ["invoice.created", "invoice.finalized", "invoice.paid"]

    # Newest first, each twice.
    for event in reversed(events):
        deliver(event)
        deliver(event)

    ours = Invoice.objects.get(stripe_invoice_id=invoice.id)
    assert ours.status == "paid"
    assert ours.lines.count() == 12
    assert Invoice.objects.filter(stripe_invoice_id=invoice.id).count() == 1
    # Paid outside Stripe: one payment row for it, however often the event came.
    assert Payment.objects.filter(invoice=ours).count() == 1
    # Each delivery was stored once, processed once.
    assert WebhookEvent.objects.count() == 3
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"processed"}


def test_a_copy_read_earlier_never_overwrites_a_later_one(
    connected: StripeConnection, sdk: stripe.StripeClient, ada: Any
) -> None:
    invoice = stripe_invoice(sdk, ada.id, [("Audit", 1, 5_000)])
    open_copy = sdk.v1.invoices.retrieve(invoice.id).to_dict(for_json=True)
    read_early = timezone.now()
    _sync()
    sdk.v1.invoices.pay(invoice.id, params={"paid_out_of_band": True})
    _sync()
    ours = Invoice.objects.get(stripe_invoice_id=invoice.id)
    assert ours.status == "paid"

    # A slow worker applies the open copy it read before the payment.
    _invoice, outcome = upsert.invoice_upsert(
        company=connected.company,
        customer=ours.customer,
        data=open_copy,
        lines=[],
        synced_at=read_early,
    )

    assert outcome == "stale"
    ours.refresh_from_db()
    assert ours.status == "paid"


def test_events_of_another_account_are_ignored(
    connected: StripeConnection,
    sdk: stripe.StripeClient,
    ada: Any,
    emulator: EmulatorServer,
    deliver: Any,
) -> None:
    _sync()
    other = stripe.StripeClient("sk_test_someone_else", base_addresses={"api": emulator.base_url})
    stranger = other.v1.customers.create(params={"email": "eve@example.com"})
    theirs = other.v1.invoices.create(
        params={"customer": stranger.id, "collection_method": "send_invoice", "days_until_due": 1}
    )
    other.v1.invoice_items.create(
        params={"customer": stranger.id, "invoice": theirs.id, "amount": 900, "currency": "usd"}
    )
    other.v1.invoices.finalize_invoice(theirs.id)
    finalized = stripe_events(emulator)  # ours: none of theirs
    assert not [e for e in finalized if e["data"]["object"]["id"] == theirs.id]
    event = {
        "id": "evt_theirs",
        "object": "event",
        "api_version": stripe.api_version,
        "type": "invoice.finalized",
        "created": int(timezone.now().timestamp()),
        "data": {"object": {"id": theirs.id, "object": "invoice"}},
    }

    deliver(event)  # Re-fetched with our key: Stripe has no such invoice for us.
    deliver({**event, "id": "evt_connect", "account": "acct_someone_else"})

    assert not Invoice.objects.exists()
    statuses = dict(WebhookEvent.objects.values_list("event_id", "status"))
    assert statuses == {
        "evt_theirs": WebhookEventStatus.PROCESSED,
        "evt_connect": WebhookEventStatus.IGNORED,
    }


def test_the_reconciliation_fills_the_gap_a_lost_webhook_left(
    connected: StripeConnection, sdk: stripe.StripeClient, ada: Any
) -> None:
    _sync()
    StripeConnection.objects.update(sync_reconciled_at=timezone.now() - dt.timedelta(hours=1))
    # Made and paid in Stripe; no webhook ever reaches us.
    invoice = stripe_invoice(sdk, ada.id, [("Retainer", 1, 30_000)])
    sdk.v1.invoices.pay(invoice.id, params={"payment_method": "pm_card_visa"})
    voided = stripe_invoice(sdk, ada.id, [("Mistake", 1, 100)])
    sdk.v1.invoices.void_invoice(voided.id)

    assert stripe_reconcile_task() >= 3  # two invoices and the customer

    assert Invoice.objects.get(stripe_invoice_id=invoice.id).status == "paid"
    assert Invoice.objects.get(stripe_invoice_id=voided.id).status == "void"
    # The next pass starts where this one ended.
    assert StripeConnection.objects.get().sync_reconciled_at > timezone.now() - dt.timedelta(
        minutes=1
    )


def test_companies_that_never_imported_are_not_synced(
    connected: StripeConnection,
    sdk: stripe.StripeClient,
    ada: Any,
    emulator: EmulatorServer,
    deliver: Any,
) -> None:
    stripe_invoice(sdk, ada.id, [("Audit", 1, 5_000)])
    for event in stripe_events(emulator, ("invoice.finalized",)):
        deliver(event)
    assert not Invoice.objects.exists()
    assert stripe_reconcile_task() == 0
