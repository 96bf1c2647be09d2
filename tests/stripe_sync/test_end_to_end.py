"""The whole way, over HTTP: a company billing in Stripe imports its account twice, then a
payment made in Stripe reaches the running portal through the emulator's signed webhooks
(duplicated, shuffled, concurrent) and the imported invoice's page opens."""

from __future__ import annotations

import io
import urllib.request
from typing import Any

import stripe
from django.core.management import call_command

from invoices.models import Customer, Invoice
from payments import services
from payments.models import Payment, StripeConnection, WebhookEvent
from stripe_emulator.server import EmulatorServer
from tests.factories import share_token
from tests.stripe_sync.conftest import SECRET_KEY, WEBHOOK_SECRET, stripe_invoice


def test_import_twice_then_a_payment_in_stripe_arrives_by_webhook(
    live_server: Any,
    emulator: EmulatorServer,
    connected: StripeConnection,
    sdk: stripe.StripeClient,
    settings: Any,
) -> None:
    settings.PUBLIC_BASE_URL = live_server.url
    emulator.add_webhook_endpoint(
        api_key=SECRET_KEY,
        url=live_server.url + services.webhook_path(connected),
        secret=WEBHOOK_SECRET,
        duplicate=2,
        shuffle=True,
        batch_ms=200,
        concurrency=3,
    )
    ada = sdk.v1.customers.create(params={"name": "Ada", "email": "ada@example.com"})
    theirs = stripe_invoice(sdk, ada.id, [(f"Line {n}", 1, 1_000 + n) for n in range(15)])
    assert emulator.emulator.webhooks.wait_idle(timeout=30)
    for _run in range(2):
        call_command("stripe_sync", "tenant", stdout=io.StringIO())
    assert Customer.objects.count() == 1
    invoice = Invoice.objects.get()
    assert (invoice.number, invoice.lines.count()) == (theirs.number, 15)

    sdk.v1.invoices.pay(theirs.id, params={"payment_method": "pm_card_visa"})
    assert emulator.emulator.webhooks.wait_idle(timeout=60)

    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_due) == ("paid", 0)
    assert Payment.objects.count() == 1
    assert WebhookEvent.objects.exclude(status__in=["processed", "ignored"]).count() == 0
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{live_server.url}/invoice/{share_token(invoice)}", timeout=20) as page:
        assert page.status == 200
        assert theirs.number in page.read().decode()
