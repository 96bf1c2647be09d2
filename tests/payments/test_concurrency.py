"""Concurrency on PostgreSQL (real row locks, real threads, committed transactions):
two partial payments racing, the redirect racing the webhook, and the webhook chaos test."""

from __future__ import annotations

import urllib.request
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.db import connection

from invoices.models import Company, Invoice, InvoiceStatus
from payments import services
from payments.models import Payment, WebhookEvent
from stripe_emulator.server import EmulatorServer
from tests.concurrency import in_threads
from tests.factories import make_invoice, share_token
from tests.payments.conftest import (
    SECRET_KEY,
    WEBHOOK_SECRET,
    confirm_with_test_card,
    http,
    pay_on_hosted_page,
)

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL: row locks and concurrent transactions (SQLite serialises)",
    ),
    pytest.mark.django_db(transaction=True),
]


def _received(invoice: Invoice, intent_id: str, amount: int) -> services.ReceivedPayment:
    return services.ReceivedPayment(
        intent_id=intent_id, amount=amount, currency="usd", invoice_public_id=invoice.public_id
    )


def test_it_applies_two_racing_partial_payments_one_after_the_other(tenant: Company) -> None:
    invoice = make_invoice(tenant, lines=[("Work", "1", 10000, "0")], allow_partial_payments=True)
    # Two tabs each paid 60.00 of the 100.00 due; both payments arrive at the same moment.
    results = in_threads(
        lambda: services.payment_record(
            company=tenant, received=_received(invoice, "pi_tab_one", 6000), source="webhook"
        ),
        lambda: services.payment_record(
            company=tenant, received=_received(invoice, "pi_tab_two", 6000), source="webhook"
        ),
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    invoice.refresh_from_db()
    # Without the row lock both would read amount_paid=0 and count 60.00 each.
    assert invoice.amount_paid == 10000
    assert invoice.status == InvoiceStatus.PAID
    assert Payment.objects.count() == 2
    # The second to arrive found only 40.00 due: recorded whole, 40.00 applied, the 20.00
    # surplus to refund, and flagged for staff.
    flagged = Payment.objects.get(flagged_overpayment=True)
    assert (flagged.amount, flagged.surplus) == (6000, 2000)


def test_it_records_one_payment_when_the_redirect_and_the_webhook_race(tenant: Company) -> None:
    invoice = make_invoice(tenant, lines=[("Work", "1", 10000, "0")])
    record = lambda source: services.payment_record(  # noqa: E731
        company=tenant, received=_received(invoice, "pi_same", 10000), source=source
    )
    results = in_threads(*(lambda s=s: record(s) for s in ["redirect", "webhook"] * 3))
    assert not [r for r in results if isinstance(r, Exception)], results
    assert [created for _payment, created in results].count(True) == 1
    invoice.refresh_from_db()
    assert (invoice.amount_paid, invoice.status) == (10000, InvoiceStatus.PAID)
    assert Payment.objects.get().flagged_overpayment is False


def test_it_refuses_a_second_partial_payment_started_after_the_first_was_recorded(
    tenant: Company, emulator: EmulatorServer
) -> None:
    services.stripe_connection_save(
        company=tenant, secret_key=SECRET_KEY, webhook_secret=WEBHOOK_SECRET
    )
    invoice = make_invoice(tenant, lines=[("Work", "1", 10000, "0")], allow_partial_payments=True)
    services.payment_record(
        company=tenant, received=_received(invoice, "pi_first", 6000), source="webhook"
    )
    invoice.refresh_from_db()
    with pytest.raises(services.PaymentRefused) as caught:
        services.checkout_session_start(
            invoice=invoice, amount=6000, return_base_url="http://testserver/invoice/x"
        )
    assert caught.value.code == "over_amount_due"


# The chaos test ------------------------------------------------------------------------


def _get(url: str) -> int:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=20) as response:
        return int(response.status)


@pytest.mark.parametrize("with_redirect", [False, True], ids=["webhooks-only", "with-redirect"])
def test_it_counts_each_payment_once_under_webhook_chaos(
    tenant: Company, emulator: EmulatorServer, live_server: Any, settings: Any, with_redirect: bool
) -> None:
    settings.PUBLIC_BASE_URL = live_server.url
    connection_ = services.stripe_connection_save(
        company=tenant, secret_key=SECRET_KEY, webhook_secret=WEBHOOK_SECRET
    )
    # Every event three times, in shuffled batches, from four delivery threads at once.
    emulator.add_webhook_endpoint(
        api_key=SECRET_KEY,
        url=live_server.url + services.webhook_path(connection_),
        secret=WEBHOOK_SECRET,
        duplicate=3,
        shuffle=True,
        batch_ms=300,
        concurrency=4,
    )
    full = make_invoice(tenant, lines=[("Work", "1", 12050, "0")])
    partial = make_invoice(tenant, lines=[("Work", "1", 10000, "0")], allow_partial_payments=True)
    by_card = make_invoice(tenant, lines=[("Work", "1", 3000, "0")])
    tokens = {inv.pk: share_token(inv) for inv in (full, partial, by_card)}
    redirects: list[str] = []

    for invoice, amount in ((full, "120.50"), (partial, "40.00")):
        # The customer presses Pay on the invoice page: 303 to the hosted Checkout page.
        status, headers, _body = http(
            "POST", f"{live_server.url}/invoice/{tokens[invoice.pk]}/pay", {"amount": amount}
        )
        assert status == 303
        redirects.append(pay_on_hosted_page(headers["Location"]))
    card_attempt, _secret = services.card_intent_start(invoice=by_card, amount=3000)
    confirm_with_test_card(emulator.base_url, card_attempt.provider_id)
    redirects.append(
        f"{live_server.url}/invoice/{tokens[by_card.pk]}/pay/card/{card_attempt.public_id}"
    )

    if with_redirect:
        # The customers' browsers come back while the webhooks are being delivered.
        assert in_threads(*(lambda u=u: _get(u) for u in redirects)) == [200, 200, 200]
        assert all(urlsplit(u).netloc == urlsplit(live_server.url).netloc for u in redirects)
    assert emulator.emulator.webhooks.wait_idle(timeout=60)

    intents = list(Payment.objects.values_list("provider_payment_intent_id", flat=True))
    assert len(intents) == len(set(intents)) == 3
    for invoice in (full, partial, by_card):
        invoice.refresh_from_db()
    assert (full.status, full.amount_paid) == (InvoiceStatus.PAID, 12050)
    assert (partial.status, partial.amount_paid) == (InvoiceStatus.OPEN, 4000)
    assert (by_card.status, by_card.amount_paid) == (InvoiceStatus.PAID, 3000)
    assert not Payment.objects.filter(flagged_overpayment=True).exists()
    # Every distinct event stored once, none left unprocessed.
    assert WebhookEvent.objects.exclude(status__in=["processed", "ignored"]).count() == 0
    assert full.status_changes.filter(to_status="paid").count() == 1
    if not with_redirect:
        # Nothing but the (tripled, shuffled, concurrent) webhooks told us.
        assert set(Payment.objects.values_list("source", flat=True)) == {"webhook"}
    deliveries = emulator.emulator.webhooks.deliveries()
    assert len(deliveries) >= 3 * WebhookEvent.objects.count()


@pytest.mark.parametrize("with_redirect", [False, True], ids=["webhooks-only", "with-redirect"])
def test_it_applies_multi_invoice_payments_once_under_webhook_chaos(
    tenant: Company, emulator: EmulatorServer, live_server: Any, settings: Any, with_redirect: bool
) -> None:
    """Payments of several invoices (one Checkout each) and a single-invoice payment that
    pays one of their invoices first: every event three times, shuffled, from four threads,
    and the browsers coming back meanwhile. What Stripe charged is exactly what the invoices
    received plus the customer's credit: nothing lost, nothing twice."""
    from invoices.models import CreditNote
    from payments.models import CheckoutAttempt, OverpaymentHandling
    from tests.factories import make_customer, portal_token

    settings.PUBLIC_BASE_URL = live_server.url
    connection_ = services.stripe_connection_save(
        company=tenant,
        secret_key=SECRET_KEY,
        webhook_secret=WEBHOOK_SECRET,
        overpayment_handling=OverpaymentHandling.CREDIT,
    )
    emulator.add_webhook_endpoint(
        api_key=SECRET_KEY,
        url=live_server.url + services.webhook_path(connection_),
        secret=WEBHOOK_SECRET,
        duplicate=3,
        shuffle=True,
        batch_ms=300,
        concurrency=4,
    )
    customer = make_customer(tenant)
    token = portal_token(customer)
    a = make_invoice(tenant, customer, lines=[("Work", "1", 12050, "0")], due_in_days=5)
    b = make_invoice(tenant, customer, lines=[("Work", "1", 3000, "0")], due_in_days=10)
    c = make_invoice(
        tenant,
        customer,
        lines=[("Work", "1", 10000, "0")],
        due_in_days=15,
        allow_partial_payments=True,
    )
    d = make_invoice(tenant, customer, lines=[("Work", "1", 5000, "0")], due_in_days=12)
    portal = f"{live_server.url}/portal/{token}/pay"
    checkouts: list[str] = []
    # Two payments of several invoices: a+b in full; d and c with one total (c part-paid);
    # and invoice b on its own page in another tab: one of the two finds nothing owed.
    for url, form in (
        (portal, {"invoice": [a.public_id, b.public_id]}),
        (portal, {"invoice": [d.public_id, c.public_id], "amount": "90.00"}),
        (f"{live_server.url}/invoice/{share_token(b)}/pay", {"amount": "30.00"}),
    ):
        status, headers, _body = http("POST", url, form)
        assert status == 303, _body[:300]
        checkouts.append(headers["Location"])
    redirects = [pay_on_hosted_page(url) for url in checkouts]

    if with_redirect:
        assert in_threads(*(lambda u=u: _get(u) for u in redirects)) == [200, 200, 200]
    assert emulator.emulator.webhooks.wait_idle(timeout=60)

    for invoice in (a, b, c, d):
        invoice.refresh_from_db()
    assert (a.status, a.amount_paid) == (InvoiceStatus.PAID, 12050)
    assert (b.status, b.amount_paid) == (InvoiceStatus.PAID, 3000)
    assert (d.status, d.amount_paid) == (InvoiceStatus.PAID, 5000)
    assert (c.status, c.amount_paid) == (InvoiceStatus.OPEN, 4000)
    account = emulator.emulator.store.account_for_secret_key(SECRET_KEY)
    charged = sum(ch["amount"] for ch in account.of_kind("charge") if ch["status"] == "succeeded")
    assert charged == 12050 + 3000 + 9000 + 3000
    credit = sum(note.amount for note in CreditNote.objects.filter(customer=customer))
    received = sum(inv.amount_paid for inv in (a, b, c, d))
    assert charged == received + credit and credit == 3000
    # Each invoice got one share per multi-invoice payment, never two.
    shares = list(Payment.objects.filter(attempt__isnull=False).values_list("attempt", "invoice"))
    assert len(shares) == len(set(shares))
    assert CheckoutAttempt.objects.filter(purpose="invoices", status="succeeded").count() == 2
    assert WebhookEvent.objects.exclude(status__in=["processed", "ignored"]).count() == 0
    for invoice in (a, b, d):
        assert invoice.status_changes.filter(to_status="paid").count() == 1


def test_a_batch_that_meets_a_locked_invoice_commits_the_rest_and_applies_it_once(
    tenant: Company,
) -> None:
    import threading
    import time

    import psycopg

    from payments import webhooks
    from payments.models import WebhookEventStatus
    from tests.stripe_events import paid_checkout_events

    connected = services.stripe_connection_save(
        company=tenant, secret_key=SECRET_KEY, webhook_secret=WEBHOOK_SECRET
    )
    free, locked = (make_invoice(tenant, lines=[("Work", "1", 5000, "0")]) for _ in range(2))
    # The session of each invoice (the first of each invoice's three events), in one share.
    sessions = paid_checkout_events([free, locked], "lock")[0::3]
    for event in sessions:
        WebhookEvent.objects.create(
            connection=connected, event_id=event["id"], type=event["type"], payload=event
        )
    # Another transaction (a customer's redirect, say) holds the second invoice's row for a
    # while: the batch waits BATCH_LOCK_WAIT, commits the first payment, and processes that
    # event alone, waiting for the lock as long as it is held.
    db = connection.settings_dict
    holder = psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname=db["NAME"],
    )
    holder.execute('SELECT 1 FROM "invoices_invoice" WHERE id = %s FOR UPDATE', [locked.pk])
    held = 1.0
    threading.Timer(held, holder.rollback).start()
    started = time.monotonic()
    try:
        assert webhooks.webhook_events_drain(slot=0) == 2
    finally:
        holder.rollback()
        holder.close()
    assert time.monotonic() - started >= held
    rows = {e.event_id: e for e in WebhookEvent.objects.all()}
    first, second = rows[sessions[0]["id"]], rows[sessions[1]["id"]]
    # Each processed once, neither failed; the free invoice's committed before the lock went.
    for row in (first, second):
        assert (row.status, row.attempts, row.error) == (WebhookEventStatus.PROCESSED, 1, "")
    assert first.processed_at is not None and second.processed_at is not None
    assert (second.processed_at - first.processed_at).total_seconds() >= held * 0.8
    for invoice in (free, locked):
        invoice.refresh_from_db()
        assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.PAID, 5000)
    assert Payment.objects.count() == 2
