"""Faults: with Redis (the Celery broker) down, a Stripe webhook still answers 200 at once and
is processed by the periodic pick-up once Redis is back; an email queued during the outage is
sent when it returns. The broker is pointed at a closed port for the outage (real sockets,
real committed transactions: on_commit runs as in production)."""

from __future__ import annotations

import datetime as dt
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from invoices.models import Company
from payments.models import StripeConnection, WebhookEvent, WebhookEventStatus
from payments.stripe_client import API_VERSION
from payments.tasks import webhook_events_retry_task
from portal_project.celery import app
from preferences import emails
from preferences.models import SentEmail, SentEmailStatus
from preferences.tasks import requeue_stale_emails
from tests import factories
from tests.payments.conftest import signed_post

pytestmark = pytest.mark.django_db(transaction=True)


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def redis_down() -> Iterator[None]:
    """Celery publishes to a broker that refuses connections, not eagerly."""
    url = f"redis://127.0.0.1:{_closed_port()}/0"
    saved = {key: app.conf[key] for key in ("broker_url", "broker_write_url", "task_always_eager")}
    app.conf.update(broker_url=url, broker_write_url=url, task_always_eager=False)
    app._pool = None
    app.amqp._producer_pool = None
    try:
        yield
    finally:
        app.conf.update(saved)
        app._pool = None
        app.amqp._producer_pool = None


def test_a_stripe_webhook_answers_200_at_once_with_redis_down(
    client: Any, connected: StripeConnection, redis_down: None
) -> None:
    event = {
        "id": "evt_outage",
        "object": "event",
        "api_version": API_VERSION,
        "type": "checkout.session.expired",
        "created": int(time.time()),
        "data": {"object": {"id": "cs_gone"}},
    }
    started = time.monotonic()
    response = signed_post(client, connected.webhook_key, event)
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    print(f"webhook answered in {elapsed:.2f} s")
    assert elapsed < 2, f"the webhook answered in {elapsed:.1f} s"
    row = WebhookEvent.objects.get()
    assert row.status == WebhookEventStatus.PENDING


def test_the_periodic_pick_up_processes_what_arrived_during_the_outage(
    client: Any, connected: StripeConnection
) -> None:
    # Stored while the broker was down (its message never left); Redis is back.
    row = WebhookEvent.objects.create(
        connection=connected,
        event_id="evt_outage",
        type="checkout.session.expired",
        payload={"data": {"object": {"id": "cs_gone"}}},
    )
    WebhookEvent.objects.filter(pk=row.pk).update(
        received_at=timezone.now() - dt.timedelta(minutes=2)
    )
    assert webhook_events_retry_task() == 1
    row.refresh_from_db()
    assert row.status == WebhookEventStatus.PROCESSED


def test_an_email_queued_during_the_outage_is_sent_when_redis_returns(
    tenant: Company, redis_down: None, settings: Any
) -> None:
    invoice = factories.make_invoice(tenant, lines=[("Work", "1", 5000, "0")])
    started = time.monotonic()
    sent = emails.invoice_email_queue(invoice=invoice)  # commits; the publish fails
    assert time.monotonic() - started < 2
    sent.refresh_from_db()
    assert sent.status == SentEmailStatus.QUEUED and not mail.outbox
    # Redis returns (the fixture's outage is over for the beat's task run eagerly here).
    app.conf.task_always_eager = True
    SentEmail.objects.filter(pk=sent.pk).update(
        created_at=sent.created_at - dt.timedelta(minutes=4)
    )
    assert requeue_stale_emails() == 1
    sent.refresh_from_db()
    assert sent.status == SentEmailStatus.SENT
    assert len(mail.outbox) == 1
