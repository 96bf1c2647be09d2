"""A Celery worker killed with SIGKILL in the middle of a task loses nothing and does nothing
twice. Real workers (subprocesses) on the test Redis and database; the test holds a row lock
the task needs, so the worker is caught mid-task (its database session waiting on the lock,
its transaction open), then kills it.

- The whole worker killed (a machine or container lost): the message stays unacknowledged in
  Redis; PostgreSQL ends the dead worker's session and rolls back what it had begun, so the
  webhook event is still pending; a new worker takes the message once the broker's visibility
  timeout has passed (an hour in production, 2 s here) and applies the payment once.
- Only the pool process killed (OOM): the message goes back on the queue at once
  (``task_reject_on_worker_lost``) and the worker's new pool process applies it once.
- An email being sent: the row is ``queued`` again at once (never stuck in ``sending``), and
  the next worker sends it once, to a real SMTP server.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client

from invoices.models import Company, Invoice, InvoiceStatus
from payments import services, webhooks
from payments.models import Payment, WebhookEvent, WebhookEventStatus
from payments.stripe_client import API_VERSION
from preferences import emails
from preferences.models import SentEmail, SentEmailStatus
from tests import factories
from tests.chaos.conftest import (
    Mailbox,
    RowLock,
    Worker,
    session_alive,
    sessions_waiting_on_a_lock,
    wait_until,
)
from tests.payments.conftest import SECRET_KEY, WEBHOOK_SECRET, signed_post
from tests.stripe_events import paid_checkout_events

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]


def _session_completed(invoice: Invoice, amount: int) -> dict[str, Any]:
    return {
        "id": "evt_chaos_1",
        "object": "event",
        "api_version": API_VERSION,
        "type": "checkout.session.completed",
        "created": int(time.time()),
        "data": {
            "object": {
                "id": "cs_chaos_1",
                "object": "checkout.session",
                "payment_status": "paid",
                "payment_intent": "pi_chaos_1",
                "amount_total": amount,
                "currency": invoice.currency,
                "metadata": {"invoice": invoice.public_id},
            }
        },
    }


def _caught_mid_task(worker: Worker) -> int:
    """The worker's database session, blocked on the test's lock: it is inside the task."""
    waiting = wait_until(sessions_waiting_on_a_lock, timeout=60, what="the worker to take the task")
    assert worker.process.poll() is None
    return int(waiting[0])


def _event() -> WebhookEvent:
    return WebhookEvent.objects.get(event_id="evt_chaos_1")


@pytest.fixture
def delivered(broker: Any, tenant: Company) -> Iterator[tuple[Invoice, RowLock]]:
    """A 100.00 invoice whose row the test holds locked, and a paid Checkout's webhook
    delivered for it (stored, answered 200, its task on the real queue)."""
    connected = services.stripe_connection_save(
        company=tenant, secret_key=SECRET_KEY, webhook_secret=WEBHOOK_SECRET
    )
    invoice = factories.make_invoice(tenant, lines=[("Work", "1", 10000, "0")])
    broker.delete("celery")  # the invoice's PDF pre-render: not what this test is about
    lock = RowLock(Invoice._meta.db_table, invoice.pk)
    response = signed_post(Client(), connected.webhook_key, _session_completed(invoice, 10000))
    assert response.status_code == 200
    assert _event().status == WebhookEventStatus.PENDING
    try:
        yield invoice, lock
    finally:
        lock.release()


def _nothing_applied(invoice: Invoice) -> None:
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.OPEN, 0)
    assert not Payment.objects.exists()
    assert _event().status != WebhookEventStatus.PROCESSED


def _applied_once(invoice: Invoice) -> None:
    wait_until(
        lambda: _event().status == WebhookEventStatus.PROCESSED,
        timeout=90,
        what="the event to be processed",
    )
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.PAID, 10000)
    assert list(Payment.objects.values_list("provider_payment_intent_id", "amount")) == [
        ("pi_chaos_1", 10000)
    ]
    assert _event().attempts == 1


def test_a_killed_worker_loses_no_webhook_event_and_a_new_worker_applies_it_once(
    delivered: tuple[Invoice, RowLock],
    broker: Any,
    start_worker: Callable[..., Worker],
) -> None:
    invoice, lock = delivered
    first = start_worker(CELERY_VISIBILITY_TIMEOUT="2")
    session = _caught_mid_task(first)
    started = time.monotonic()
    first.kill()
    lock.release()
    # PostgreSQL ends the dead worker's session and rolls back its transaction.
    wait_until(lambda: not session_alive(session), timeout=30, what="the session to end")
    _nothing_applied(invoice)
    # The message was taken, never acknowledged: still in Redis.
    assert broker.hlen("unacked") == 1

    time.sleep(2.5)  # the visibility timeout (an hour in production)
    start_worker(CELERY_VISIBILITY_TIMEOUT="2")
    _applied_once(invoice)
    print(f"killed worker: event applied {time.monotonic() - started:.1f} s after the kill")
    wait_until(lambda: broker.hlen("unacked") == 0, timeout=30, what="the acknowledgement")
    # The periodic pick-up finds nothing left to do.
    assert webhooks.webhook_events_unprocessed(older_than=dt.timedelta(0)) == []


def test_a_killed_pool_process_loses_nothing_and_its_replacement_applies_it_once(
    delivered: tuple[Invoice, RowLock],
    start_worker: Callable[..., Worker],
) -> None:
    invoice, lock = delivered
    worker = start_worker()
    _caught_mid_task(worker)
    pool = worker.pool_process()
    os.kill(pool, signal.SIGKILL)
    lock.release()
    _applied_once(invoice)
    assert worker.process.poll() is None  # the worker itself lived on


def _tarpit() -> socket.socket:
    """A port that accepts connections and never answers: an SMTP send hangs in it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    return sock


def test_a_worker_killed_while_sending_an_email_leaves_it_queued_and_it_is_sent_once(
    broker: Any,
    tenant: Company,
    start_worker: Callable[..., Worker],
    mailbox: Mailbox,
) -> None:
    invoice = factories.make_invoice(
        tenant,
        lines=[("Work", "1", 5000, "0")],
        customer=factories.make_customer(tenant, email="ada@example.com"),
    )
    broker.delete("celery")  # the invoice's PDF pre-render: not what this test is about
    tarpit = _tarpit()
    try:
        first = start_worker(
            EMAIL_URL=f"smtp://127.0.0.1:{tarpit.getsockname()[1]}",
            CELERY_VISIBILITY_TIMEOUT="2",
        )
        sent = emails.invoice_email_queue(invoice=invoice)  # commits; the task is queued
        tarpit.settimeout(60)
        held, _address = tarpit.accept()  # the worker is inside the send
        first.kill()
        held.close()
    finally:
        tarpit.close()
    sent.refresh_from_db()
    assert sent.status == SentEmailStatus.QUEUED
    assert not mailbox.envelopes

    time.sleep(2.5)
    start_worker(EMAIL_URL=f"smtp://127.0.0.1:{mailbox.port}", CELERY_VISIBILITY_TIMEOUT="2")
    wait_until(
        lambda: SentEmail.objects.get(pk=sent.pk).status == SentEmailStatus.SENT,
        timeout=90,
        what="the email to be sent",
    )
    time.sleep(1)
    assert [e.rcpt_tos for e in mailbox.envelopes] == [["ada@example.com"]]


# Thousands of events, shuffled and duplicated, while workers die -------------------------


def _deliver_all(webhook_key: str, deliveries: list[dict[str, Any]], threads: int) -> list[int]:
    """Post the deliveries from ``threads`` threads at once (each with its own client and
    database connection, as concurrent requests); the answers' status codes."""
    import threading

    from django.db import connections

    answers: list[int] = []

    def post(share: list[dict[str, Any]]) -> None:
        client = Client()
        try:
            answers.extend(signed_post(client, webhook_key, e).status_code for e in share)
        finally:
            connections.close_all()

    posting = [
        threading.Thread(target=post, args=(deliveries[n::threads],)) for n in range(threads)
    ]
    for thread in posting:
        thread.start()
    for thread in posting:
        thread.join(300)
    return answers


def test_thousands_of_shuffled_duplicated_events_are_applied_once_while_workers_are_killed(
    broker: Any, tenant: Company, start_worker: Callable[..., Worker]
) -> None:
    import random

    from invoices.models import InvoiceStatusChange

    connected = services.stripe_connection_save(
        company=tenant, secret_key=SECRET_KEY, webhook_secret=WEBHOOK_SECRET
    )
    customer = factories.make_customer(tenant, email="")
    invoices = [
        factories.make_invoice(tenant, customer, lines=[("Work", "1", 1000 + n, "0")])
        for n in range(400)
    ]
    broker.delete("celery")  # the invoices' PDF pre-renders: not what this test is about
    events = paid_checkout_events(invoices, "load")
    deliveries = events * 2
    random.Random(23).shuffle(deliveries)

    # Two workers drain while the deliveries arrive; when a quarter is processed, one worker
    # dies whole (its drain's message waits for the visibility timeout) and the other loses its
    # pool process (its message goes back at once).
    first = start_worker(CELERY_VISIBILITY_TIMEOUT="2")
    second = start_worker(CELERY_VISIBILITY_TIMEOUT="2")
    done_statuses = [WebhookEventStatus.PROCESSED, WebhookEventStatus.IGNORED]
    answers: list[int] = []
    import threading

    posting = threading.Thread(
        target=lambda: answers.extend(_deliver_all(connected.webhook_key, deliveries, 4))
    )
    posting.start()
    wait_until(
        lambda: WebhookEvent.objects.filter(status__in=done_statuses).count() >= len(events) // 4,
        timeout=180,
        what="a quarter of the events to be processed",
    )
    first.kill()
    os.kill(second.pool_process(), signal.SIGKILL)
    posting.join(300)
    assert answers.count(200) == len(deliveries)
    time.sleep(2.5)  # the visibility timeout (an hour in production)
    start_worker(CELERY_VISIBILITY_TIMEOUT="2")
    started = time.monotonic()
    wait_until(
        lambda: WebhookEvent.objects.filter(status__in=done_statuses).count() == len(events),
        timeout=300,
        what="every event to be processed",
    )
    print(f"{len(events)} events done {time.monotonic() - started:.1f} s after the kills")

    # Every event stored once and applied once: a killed transaction took its attempt with it.
    stored = list(WebhookEvent.objects.values_list("event_id", "type", "status", "attempts"))
    assert sorted(e for e, _t, _s, _a in stored) == sorted(e["id"] for e in events)
    expected = {
        "checkout.session.completed": (WebhookEventStatus.PROCESSED, 1),
        "payment_intent.succeeded": (WebhookEventStatus.PROCESSED, 1),
        "charge.succeeded": (WebhookEventStatus.IGNORED, 0),  # ignored when stored
    }
    assert [row for row in stored if expected[row[1]] != (row[2], row[3])] == []
    # One payment per PaymentIntent, each invoice paid exactly its total, once.
    paid = list(Payment.objects.values_list("provider_payment_intent_id", "invoice", "amount"))
    assert sorted(p for p, _i, _a in paid) == sorted(f"pi_load_{n}" for n in range(400))
    totals = {invoice.pk: invoice.total for invoice in invoices}
    assert {i: a for _p, i, a in paid} == totals
    for invoice in Invoice.objects.filter(pk__in=totals):
        assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.PAID, totals[invoice.pk])
    assert InvoiceStatusChange.objects.filter(to_status="paid").count() == len(invoices)
    wait_until(lambda: broker.hlen("unacked") == 0, timeout=60, what="the acknowledgements")
    assert webhooks.webhook_events_unprocessed(older_than=dt.timedelta(0)) == []
