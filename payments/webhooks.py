"""Stripe webhooks: verify, store, process.

webhook_receive() (called by the thin view payments.views.stripe_webhook) verifies the
signature with the company's own signing secret (400 when missing, forged or stale), stores
the event with its unique id in the same transaction that queues processing; the view then
answers 200 at once. Celery then runs
webhook_event_process(), which claims the event with a conditional UPDATE (so two workers
never process one event), runs the handler for its type from HANDLERS, and records the
outcome and any error on the event row. Handlers are idempotent: every payment is keyed by
its PaymentIntent id, so duplicates, reordering and concurrent deliveries count it once.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from core.errors import ApplicationError
from invoices.models import Company
from payments import selectors, services, stripe_client
from payments.models import AttemptStatus, StripeConnection, WebhookEvent, WebhookEventStatus
from payments.stripe_sync import live as stripe_sync_live
from payments.tasks import webhook_event_process_task

logger = logging.getLogger("payments.webhooks")

# A claim older than this is considered abandoned (the worker died) and may be taken again.
STALE_CLAIM = dt.timedelta(minutes=10)
MAX_ATTEMPTS = 8

Handler = Callable[[Company, Mapping[str, Any]], None]


class PaymentNotRecordedYet(Exception):
    """An event about a payment of ours that we have not recorded yet (reordered delivery)."""


def _session_completed(company: Company, session: Mapping[str, Any]) -> None:
    # "unpaid" means a delayed method is still processing: payment_intent.succeeded follows.
    if session.get("payment_status") != "paid" or not session.get("payment_intent"):
        return
    intent_id = session["payment_intent"]
    if isinstance(intent_id, dict):
        intent_id = intent_id["id"]
    metadata = session.get("metadata") or {}
    services.payment_record(
        company=company,
        received=services.ReceivedPayment(
            intent_id=str(intent_id),
            amount=int(session["amount_total"]),
            currency=str(session["currency"]),
            invoice_public_id=str(metadata.get("invoice", "")),
            attempt_public_id=str(metadata.get("attempt", "")),
            session_id=str(session["id"]),
        ),
        source="webhook",
    )


def _session_expired(company: Company, session: Mapping[str, Any]) -> None:
    services.attempt_mark(
        company=company, provider_id=str(session["id"]), status=AttemptStatus.EXPIRED
    )


def _intent_succeeded(company: Company, data: Mapping[str, Any]) -> None:
    intent = stripe_client.intent_from_dict(data)
    if "invoice" not in intent.metadata:
        # Not started on our pages (a payment of a Stripe invoice on Stripe's own page, or
        # another integration's): an invoice.* event brings what it changed.
        return
    services.payment_record(
        company=company, received=services.received_from_intent(intent), source="webhook"
    )


def _intent_failed(company: Company, data: Mapping[str, Any]) -> None:
    intent = stripe_client.intent_from_dict(data)
    # Only the card attempt is named by the intent id; a Checkout attempt stays open, since
    # the customer can try another card on Stripe's page.
    services.attempt_mark(
        company=company,
        provider_id=intent.id,
        status=AttemptStatus.OPEN,
        error=intent.last_error or "",
    )


def _charge_refunded(company: Company, charge: Mapping[str, Any]) -> None:
    intent_id = charge.get("payment_intent")
    if isinstance(intent_id, dict):
        intent_id = intent_id.get("id")
    if not intent_id:
        return
    payment = services.payment_refund_record(
        company=company,
        intent_id=str(intent_id),
        amount_refunded=int(charge.get("amount_refunded") or 0),
    )
    if payment is None and (charge.get("metadata") or {}).get("invoice"):
        # A refund of one of our payments, delivered before the payment itself: fail, so
        # that the periodic task applies it once the payment is recorded (never dropped).
        raise PaymentNotRecordedYet(str(intent_id))


HANDLERS: dict[str, Handler] = {
    # Invoices, credit notes and customers of the company's Stripe account (Stripe sync).
    **stripe_sync_live.HANDLERS,
    "checkout.session.completed": _session_completed,
    "checkout.session.async_payment_succeeded": _session_completed,
    "checkout.session.expired": _session_expired,
    "payment_intent.succeeded": _intent_succeeded,
    "payment_intent.payment_failed": _intent_failed,
    "charge.refunded": _charge_refunded,
}


class UnknownEndpoint(Exception):
    """No active Stripe connection has this webhook key."""


class WrongApiVersion(ApplicationError):
    """An event rendered in another Stripe API version than the one we pin: its objects may
    have another shape, so it is refused (400) and logged rather than misread. The endpoint's
    API version is set in the Stripe dashboard (or by the emulator from our pinned client)."""

    def __init__(self, received: object) -> None:
        super().__init__(
            "wrong_api_version",
            f"Events must use Stripe API version {stripe_client.API_VERSION}, not {received!s}.",
            "api_version",
            400,
        )
        self.received = received


# Webhook events --------------------------------------------------------------------------


def webhook_event_store(
    *, connection: StripeConnection, event: Mapping[str, Any]
) -> tuple[WebhookEvent, bool]:
    """Store a verified event once per connection (its id is unique for the endpoint) and
    queue its processing when the transaction commits. A duplicate delivery changes nothing:
    (the stored row, False)."""
    with transaction.atomic():
        row, created = WebhookEvent.objects.get_or_create(
            connection=connection,
            event_id=event["id"],
            defaults={
                "type": str(event.get("type", "")),
                "payload": dict(event),
            },
        )
        if created:
            # robust: if the broker is down the event stays pending for the periodic task.
            transaction.on_commit(_processing_queuer(row.pk), robust=True)
    return row, created


def _processing_queuer(event_pk: int) -> Callable[[], None]:
    # A named function (Django's robust on_commit logs the name of a callback that failed; a
    # functools.partial has none) that ignores the result, so a Redis outage costs the
    # webhook request the broker's bounded timeout, not a wait on the result backend.
    def queue_webhook_event() -> None:
        webhook_event_process_task.apply_async((event_pk,), ignore_result=True)

    return queue_webhook_event


def webhook_receive(*, webhook_key: str, payload: bytes, signature: str) -> bool:
    """Verify a delivery with the signing secret of the company the URL names, then store it
    (processing is queued on commit). True for a new event, False for a repeat.
    Raises UnknownEndpoint (answer 404), stripe_client.BadSignature or WrongApiVersion
    (answer 400)."""
    connection = selectors.connection_for_webhook_key(webhook_key)
    if connection is None:
        raise UnknownEndpoint(webhook_key)
    event = stripe_client.webhook_event_verify(
        payload=payload,
        signature=signature,
        secret=services.connection_webhook_secret(connection),
    )
    if event.get("api_version") != stripe_client.API_VERSION:
        raise WrongApiVersion(event.get("api_version"))
    _row, created = webhook_event_store(connection=connection, event=event)
    return created


def _claim(event_pk: int) -> bool:
    """Take the event for processing; False if another worker has it or it is done."""
    now = timezone.now()
    claimable = Q(status__in=[WebhookEventStatus.PENDING, WebhookEventStatus.FAILED]) | Q(
        status=WebhookEventStatus.PROCESSING, claimed_at__lt=now - STALE_CLAIM
    )
    return bool(
        WebhookEvent.objects.filter(claimable, pk=event_pk, attempts__lt=MAX_ATTEMPTS).update(
            status=WebhookEventStatus.PROCESSING, claimed_at=now, attempts=F("attempts") + 1
        )
    )


def _of_this_account(event: WebhookEvent) -> bool:
    """False for an event that names another Stripe account than the company's (a Connect
    account's event on a shared endpoint): its objects are not the company's to sync."""
    account = event.payload.get("account")
    expected = event.connection.stripe_account_id
    return not (account and expected and account != expected)


def webhook_event_process(*, event_pk: int) -> str | None:
    """Process one stored event; returns its final status, or None if not ours to process."""
    if not _claim(event_pk):
        return None
    event = WebhookEvent.objects.select_related("connection__company").get(pk=event_pk)
    handler = HANDLERS.get(event.type)
    status, error = WebhookEventStatus.PROCESSED, ""
    if handler is None or not _of_this_account(event):
        status = WebhookEventStatus.IGNORED
    else:
        try:
            handler(event.connection.company, event.payload["data"]["object"])
        except Exception as exc:
            # Recorded on the row and retried by the periodic task; never lost.
            logger.exception("webhook.failed event=%s type=%s", event.event_id, event.type)
            status, error = WebhookEventStatus.FAILED, f"{type(exc).__name__}: {exc}"[:2000]
    WebhookEvent.objects.filter(pk=event_pk).update(
        status=status, error=error, processed_at=timezone.now()
    )
    logger.info("webhook.done event=%s type=%s status=%s", event.event_id, event.type, status)
    return str(status)


def webhook_events_unprocessed(*, older_than: dt.timedelta) -> list[int]:
    """Events stored but not processed (worker down, crash, failure) and due for a retry."""
    now = timezone.now()
    waiting = Q(status=WebhookEventStatus.PENDING, received_at__lt=now - older_than)
    failed = Q(status=WebhookEventStatus.FAILED, processed_at__lt=now - older_than)
    stale = Q(status=WebhookEventStatus.PROCESSING, claimed_at__lt=now - STALE_CLAIM)
    return list(
        WebhookEvent.objects.filter(waiting | failed | stale, attempts__lt=MAX_ATTEMPTS)
        .order_by("received_at")
        .values_list("pk", flat=True)[:500]
    )
