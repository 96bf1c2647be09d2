"""Stripe webhooks: verify, store, process.

webhook_receive() (called by the thin view payments.views.stripe_webhook) verifies the
signature with the company's own signing secret (400 when missing, forged or stale), stores
the event with its unique id in the same transaction that queues processing; the view then
answers 200 at once. Celery then runs
webhook_event_process(), which claims the event with its row lock (so two workers never
process one event, and a worker killed mid-event leaves it pending, not half-applied), runs
the handler for its type from HANDLERS, and records the outcome and any error on the event
row in the same commit. Handlers are idempotent: every payment is keyed by
its PaymentIntent id, so duplicates, reordering and concurrent deliveries count it once.
"""

from __future__ import annotations

import datetime as dt
import logging
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Mod
from django.utils import timezone

from core.errors import ApplicationError
from invoices.models import Company
from invoices.rows import prepared_cursor
from payments import multipay, services, stripe_client, webhook_endpoints
from payments.models import AttemptStatus, WebhookEvent, WebhookEventStatus
from payments.stripe_sync import live as stripe_sync_live
from payments.tasks import webhook_events_drain_task

logger = logging.getLogger("payments.webhooks")

MAX_ATTEMPTS = 8
# Events a worker may take (under the row lock). "processing" is what a claim of earlier
# versions left committed: a row nobody holds the lock of is nobody's any more.
CLAIMABLE = (
    WebhookEventStatus.PENDING,
    WebhookEventStatus.FAILED,
    WebhookEventStatus.PROCESSING,
)

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
    if multipay.attempt_apply_from_stripe(
        company=company,
        metadata={str(k): str(v) for k, v in metadata.items()},
        intent_id=str(intent_id),
        amount=int(session["amount_total"]),
        currency=str(session["currency"]),
        session_id=str(session["id"]),
    ):
        return
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
    if multipay.attempt_apply_from_stripe(
        company=company,
        metadata=dict(intent.metadata),
        intent_id=intent.id,
        amount=intent.amount_received or intent.amount,
        currency=intent.currency,
        charge_id=intent.latest_charge or "",
    ):
        return
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


def _intent_canceled(company: Company, data: Mapping[str, Any]) -> None:
    # A card attempt we superseded (or Stripe abandoned): it can no longer be paid.
    services.attempt_mark(
        company=company, provider_id=str(data["id"]), status=AttemptStatus.EXPIRED
    )


def _charge_refunded(company: Company, charge: Mapping[str, Any]) -> None:
    intent_id = charge.get("payment_intent")
    if isinstance(intent_id, dict):
        intent_id = intent_id.get("id")
    if not intent_id:
        return
    metadata = charge.get("metadata") or {}
    if metadata.get("purpose") == "invoices":
        # A payment of several invoices: its shares are refunded newest allocation first.
        recorded = multipay.multi_refund_record(
            company=company,
            intent_id=str(intent_id),
            amount_refunded=int(charge.get("amount_refunded") or 0),
        )
        if recorded is None:  # delivered before the payment: retried once it is applied
            raise PaymentNotRecordedYet(str(intent_id))
        return
    payment = services.payment_refund_record(
        company=company,
        intent_id=str(intent_id),
        amount_refunded=int(charge.get("amount_refunded") or 0),
    )
    if payment is None and metadata.get("invoice"):
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
    "payment_intent.canceled": _intent_canceled,
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

# Processing is queued as a drain task per slot, not a task per event: a delivery queues one
# only when no drain of that slot is already queued or running (a flag in the cache, set with
# add(), so only one delivery sets it). A drain processes every pending event, then clears its
# flag and looks once more, so an event stored while its flag was still set is never left
# behind. Two slots: the production worker runs two processes. A flag whose drain was lost
# (broker down, worker killed) expires after DRAIN_FLAG_SECONDS; the periodic task picks up
# whatever is left meanwhile.
DRAIN_SLOTS = 2
DRAIN_FLAG_SECONDS = 60
# Events a drain claims and processes in one transaction: one claim, one status update and one
# commit for all of them. Small enough that the invoice locks it holds until its commit are
# held for a fraction of a second.
DRAIN_BATCH = 25
# Drain keys range over this many values (a multiple of DRAIN_SLOTS, fits a small integer).
DRAIN_KEYS = 1024
# How long a batch waits for a lock another transaction holds (a payment of the same invoice
# being recorded elsewhere) before it commits what it did and processes that event on its own:
# a batch never waits long while holding its own locks, so two batches cannot deadlock.
BATCH_LOCK_WAIT = "100ms"


def _drain_flag(slot: int) -> str:
    return f"payments:webhook-drain:{slot}"


# One statement, so a delivery costs one round trip: a duplicate inserts nothing and returns
# no row (the unique constraint webhook_event_once_per_connection decides, also between two
# deliveries of one event at the same moment).
_INSERT_EVENT = (
    'INSERT INTO "payments_webhookevent" '
    '("connection_id", "event_id", "type", "payload", "status", "attempts", "error", '
    '"received_at", "processed_at", "drain_key") '
    "VALUES (%s, %s, %s, %s, %s, 0, '', %s, %s, %s) "
    'ON CONFLICT ("connection_id", "event_id") DO NOTHING RETURNING "id"'
)


def drain_key(event: Mapping[str, Any]) -> int:
    """The event's drain key (WebhookEvent.drain_key): from the invoice it is about (our
    metadata), else its object's id, so that every event of one invoice has the same."""
    obj = (event.get("data") or {}).get("object")
    obj = obj if isinstance(obj, dict) else {}
    metadata = obj.get("metadata")
    invoice = metadata.get("invoice") if isinstance(metadata, dict) else None
    key = str(invoice or obj.get("id") or event.get("id", ""))
    return zlib.crc32(key.encode()) % DRAIN_KEYS


def webhook_event_store(*, connection_id: int, event: Mapping[str, Any], body: str) -> bool:
    """Store a verified event once per connection (its id is unique for the endpoint; ``body``
    is its JSON as delivered) and have it processed once stored. One statement: a duplicate
    delivery inserts nothing and changes nothing (False).

    An event of a type no handler takes is stored as ignored at once (kept, as every event is,
    but nothing to process or queue): Stripe sends many kinds an endpoint never asked for."""
    event_type = str(event.get("type", ""))[:100]
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    handled = event_type in HANDLERS
    # Prepared once per connection: PostgreSQL plans it once, not on every delivery.
    with prepared_cursor(connection) as cursor:
        cursor.execute(
            _INSERT_EVENT,
            [
                connection_id,
                str(event["id"]),
                event_type,
                body,
                WebhookEventStatus.PENDING if handled else WebhookEventStatus.IGNORED,
                now,
                None if handled else now,
                drain_key(event),
            ],
        )
        created = cursor.fetchone() is not None
    if created and handled:
        # robust: if the broker is down the event stays pending for the periodic task.
        transaction.on_commit(_processing_queuer(), robust=True)
    return created


def _processing_queuer() -> Callable[[], None]:
    # A named function (Django's robust on_commit logs the name of a callback that failed; a
    # functools.partial has none) that ignores the result, so a Redis outage costs the
    # webhook request the broker's bounded timeout, not a wait on the result backend.
    def queue_webhook_events_drain() -> None:
        # Under a stream of deliveries every drain is queued or running already: one read of
        # their flags then, instead of one refused add per drain.
        flags = [_drain_flag(slot) for slot in range(DRAIN_SLOTS)]
        if len(cache.get_many(flags)) == len(flags):
            return
        for slot in range(DRAIN_SLOTS):
            if cache.add(_drain_flag(slot), 1, timeout=DRAIN_FLAG_SECONDS):
                try:
                    webhook_events_drain_task.apply_async((slot,), ignore_result=True)
                except Exception:
                    cache.delete(_drain_flag(slot))
                    raise
                return

    return queue_webhook_events_drain


def webhook_receive(*, webhook_key: str, payload: bytes, signature: str) -> bool:
    """Verify a delivery with the signing secret of the company the URL names, then store it
    (processing is queued on commit). True for a new event, False for a repeat.
    Raises UnknownEndpoint (answer 404), stripe_client.BadSignature or WrongApiVersion
    (answer 400)."""
    endpoint = webhook_endpoints.endpoint_for_key(webhook_key)
    if endpoint is None:
        raise UnknownEndpoint(webhook_key)
    try:
        event = stripe_client.webhook_event_verify(
            payload=payload, signature=signature, secret=endpoint.signing_secret
        )
    except stripe_client.BadSignature:
        # Perhaps signed with a secret saved since this process read it: read it again.
        endpoint = webhook_endpoints.endpoint_for_key(webhook_key, reread=True)
        if endpoint is None:
            raise UnknownEndpoint(webhook_key) from None
        event = stripe_client.webhook_event_verify(
            payload=payload, signature=signature, secret=endpoint.signing_secret
        )
    if event.get("api_version") != stripe_client.API_VERSION:
        raise WrongApiVersion(event.get("api_version"))
    # Verified as UTF-8 JSON already: stored as it came, not serialised again.
    return webhook_event_store(
        connection_id=endpoint.connection_id, event=event, body=payload.decode("utf-8")
    )


def _of_this_account(event: WebhookEvent) -> bool:
    """False for an event that names another Stripe account than the company's (a Connect
    account's event on a shared endpoint): its objects are not the company's to sync."""
    account = event.payload.get("account")
    expected = event.connection.stripe_account_id
    return not (account and expected and account != expected)


def _synced_if_sync_event(event: WebhookEvent) -> bool:
    """False for an invoice, credit note or customer event of a company that does not sync
    its Stripe account (it never imported it): nothing of ours to update."""
    return event.type not in stripe_sync_live.HANDLERS or bool(event.connection.sync_enabled_at)


class LockWaitTooLong(Exception):
    """A handler in a batch waited longer than BATCH_LOCK_WAIT for a row lock."""


def _lock_wait_too_long(exc: BaseException) -> bool:
    # PostgreSQL's lock_not_available, raised when lock_timeout ends a wait.
    cause = exc.__cause__
    return getattr(cause, "sqlstate", None) == "55P03"


def _apply(event: WebhookEvent, *, in_batch: bool = False) -> tuple[str, str]:
    """Run the event's handler, if it is ours to handle, in a savepoint (a failing handler
    leaves nothing behind but the error): its final status and error. In a batch, a lock
    waited on too long raises LockWaitTooLong instead of failing the event."""
    handler = HANDLERS.get(event.type)
    if handler is None or not _of_this_account(event) or not _synced_if_sync_event(event):
        return WebhookEventStatus.IGNORED, ""
    try:
        with transaction.atomic():
            handler(event.connection.company, event.payload["data"]["object"])
    except Exception as exc:
        if in_batch and _lock_wait_too_long(exc):
            raise LockWaitTooLong(event.event_id) from exc
        # Recorded on the row and retried by the periodic task; never lost.
        logger.exception("webhook.failed event=%s type=%s", event.event_id, event.type)
        return WebhookEventStatus.FAILED, f"{type(exc).__name__}: {exc}"[:2000]
    return WebhookEventStatus.PROCESSED, ""


def _outcomes_record(outcomes: dict[int, tuple[str, str]]) -> None:
    """Each event's final status and error, one UPDATE per distinct outcome."""
    now = timezone.now()
    grouped: dict[tuple[str, str], list[int]] = {}
    for event_pk, outcome in outcomes.items():
        grouped.setdefault(outcome, []).append(event_pk)
    for (status, error), pks in grouped.items():
        WebhookEvent.objects.filter(pk__in=pks).update(
            status=status,
            error=error,
            claimed_at=now,
            processed_at=now,
            attempts=F("attempts") + 1,
        )


def webhook_event_process(*, event_pk: int) -> str | None:
    """Process one stored event; returns its final status, or None if not ours to process.

    The claim is the event's row lock, held by this worker's transaction for the whole of
    the processing, and the handler's writes commit together with the final status. A second
    worker skips a locked row (``skip_locked``); a worker that dies mid-event (killed, its
    machine lost, its database connection cut) takes its transaction with it: PostgreSQL
    rolls back whatever the handler had written and frees the row at once, so the event is
    pending again for the redelivered message or the periodic pick-up, and is applied once.
    """
    with transaction.atomic():
        event = (
            WebhookEvent.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("connection__company")
            .filter(status__in=CLAIMABLE, pk=event_pk, attempts__lt=MAX_ATTEMPTS)
            .first()
        )
        if event is None:
            return None
        status, error = _apply(event)
        _outcomes_record({event.pk: (status, error)})
    logger.info("webhook.done event=%s type=%s status=%s", event.event_id, event.type, status)
    return str(status)


def _claimable_batch(*, slot: int, own_share: bool) -> list[WebhookEvent]:
    """Claim (lock, skipping rows another drain holds) up to DRAIN_BATCH events waiting to be
    processed, oldest first, with their connection and company. With ``own_share`` only the
    slot's share by drain key, so that two drains do not reach for the same invoices."""
    waiting = (
        WebhookEvent.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("connection__company")
        .filter(
            status__in=[WebhookEventStatus.PENDING, WebhookEventStatus.PROCESSING],
            attempts__lt=MAX_ATTEMPTS,
        )
    )
    if own_share:
        waiting = waiting.alias(share=Mod("drain_key", DRAIN_SLOTS)).filter(share=slot)
    return list(waiting.order_by("received_at", "pk")[:DRAIN_BATCH])


def _bound_lock_waits() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = '{BATCH_LOCK_WAIT}'")


@dataclass(frozen=True)
class BatchOutcome:
    claimed: int
    processed: int
    # An event whose handler waited too long for a lock: left pending, to be processed alone.
    blocked: int | None = None


def _batch_process(*, slot: int, own_share: bool) -> BatchOutcome:
    """Claim a batch and process its events in one transaction, each handler in its own
    savepoint as webhook_event_process runs it, and record their outcomes with the same
    commit: a worker killed mid-batch rolls back the whole batch, every event pending again.
    A lock waited on too long ends the batch: the events before it commit, the rest are
    released (pending) and taken again."""
    blocked = None
    with transaction.atomic():
        claimed = _claimable_batch(slot=slot, own_share=own_share)
        if not claimed:
            return BatchOutcome(0, 0)
        _bound_lock_waits()
        outcomes: dict[int, tuple[str, str]] = {}
        for event in claimed:
            try:
                outcomes[event.pk] = _apply(event, in_batch=True)
            except LockWaitTooLong:
                blocked = event.pk
                break
        if outcomes:
            _outcomes_record(outcomes)
    for event in claimed:
        if event.pk in outcomes:
            logger.info(
                "webhook.done event=%s type=%s status=%s",
                event.event_id,
                event.type,
                outcomes[event.pk][0],
            )
    return BatchOutcome(len(claimed), len(outcomes), blocked)


def webhook_events_drain(*, slot: int) -> int:
    """Process every event waiting (the drain task of ``slot``); returns how many it processed.

    Events are claimed and processed a batch at a time (_batch_process), with the same
    guarantees as one by one: an event another drain holds is passed over (it is that
    drain's, and if that drain dies it is pending again for the periodic task), one already
    done is not taken again, and a batch this drain is killed in is pending again. Its own
    share first, then any event still waiting; failed events wait for the periodic task.
    """
    try:
        return _drain(slot)
    except BaseException:
        # A drain that failed (database gone): the next event queues a new one at once.
        cache.delete(_drain_flag(slot))
        raise


def _drain(slot: int) -> int:
    done = 0
    flag_cleared = False
    while True:
        batch = _batch_process(slot=slot, own_share=True)
        if not batch.claimed:
            batch = _batch_process(slot=slot, own_share=False)
        if not batch.claimed and not flag_cleared:
            # From here a new event queues a new drain; one stored before is seen just below.
            cache.delete(_drain_flag(slot))
            flag_cleared = True
            batch = _batch_process(slot=slot, own_share=False)
        if not batch.claimed:
            return done
        done += batch.processed
        if batch.blocked is not None and webhook_event_process(event_pk=batch.blocked):
            # Alone, holding no other lock, it may wait as long as the lock is held.
            done += 1


def webhook_events_unprocessed(*, older_than: dt.timedelta) -> list[int]:
    """Events stored but not processed (worker down, crash, failure) and due for a retry."""
    now = timezone.now()
    waiting = Q(
        status__in=[WebhookEventStatus.PENDING, WebhookEventStatus.PROCESSING],
        received_at__lt=now - older_than,
    )
    failed = Q(status=WebhookEventStatus.FAILED, processed_at__lt=now - older_than)
    return list(
        WebhookEvent.objects.filter(waiting | failed, attempts__lt=MAX_ATTEMPTS)
        .order_by("received_at")
        .values_list("pk", flat=True)[:500]
    )
