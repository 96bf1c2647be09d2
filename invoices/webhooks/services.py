"""Outgoing webhooks: writes. ``event_emit`` is what the other apps call when something a
company's systems may want to hear about happens; the rest manages endpoints and deliveries."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import Any

from django.core.cache import cache
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.crypto import decrypt_secret, encrypt_secret
from core.errors import ApplicationError
from invoices import events
from invoices.events import Actor
from invoices.models import Company, Membership
from invoices.models.company import Role
from invoices.webhooks import signing
from invoices.webhooks.models import (
    EVENT_TYPES,
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from invoices.webhooks.targets import post, target_check_at_creation

logger = logging.getLogger("webhooks")

# Waits before each retry (Standard Webhooks' schedule, stretched to about a day): after the
# last one fails, the delivery has failed for good.
RETRY_DELAYS = (
    dt.timedelta(seconds=5),
    dt.timedelta(minutes=1),
    dt.timedelta(minutes=5),
    dt.timedelta(minutes=30),
    dt.timedelta(hours=2),
    dt.timedelta(hours=5),
    dt.timedelta(hours=10),
    dt.timedelta(hours=6),
)
# Retries sooner than this are queued with a countdown; later ones wait for the periodic sweep
# (a broker may redeliver long countdowns, and the sweep survives a lost message anyway).
COUNTDOWN_LIMIT = dt.timedelta(minutes=10)
SEND_CLAIM = dt.timedelta(minutes=2)
# After a rotation the old secret keeps signing this long.
ROTATION_OVERLAP = dt.timedelta(hours=24)
MAX_ENDPOINTS = 16
SUBSCRIPTIONS_CACHED_FOR = 600


class WebhookError(ApplicationError):
    pass


# Emitting --------------------------------------------------------------------------------


# Apps above that act on the same events themselves (the customer's receipt, staff
# notifications: preferences) plug a listener in when Django starts. Each is called for every
# event, in the caller's transaction, whoever subscribes: it should only queue work on commit.
EventListener = Callable[..., None]
_listeners: list[EventListener] = []


def event_listeners_connect(listener: EventListener) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


class EventData(Mapping[str, Any]):
    """An event's data built when first read: frequent events (a flush of a thousand views)
    load what their data needs only for the companies whose endpoints, or a listener, read it."""

    def __init__(self, build: Callable[[], Mapping[str, Any]]) -> None:
        self._build: Callable[[], Mapping[str, Any]] | None = build
        self._data: Mapping[str, Any] = {}

    def _built(self) -> Mapping[str, Any]:
        if self._build is not None:
            self._data, self._build = self._build(), None
        return self._data

    def __getitem__(self, key: str) -> Any:
        return self._built()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._built())

    def __len__(self) -> int:
        return len(self._built())


def event_emit(*, company: Company, type: str, object_id: str, data: Mapping[str, Any]) -> None:
    """Announce ``type`` about ``object_id`` (a public id) to the listeners in the project and
    to the company's endpoints that subscribe to it: writes the outbox row and one delivery per
    endpoint in the caller's transaction, and queues the deliveries once it commits. No
    subscriber: no write (and an ``EventData`` no listener reads is never built)."""
    if type not in EVENT_TYPES:
        raise ValueError(f"Unknown webhook event type: {type}")
    for listener in _listeners:
        listener(company=company, type=type, object_id=object_id, data=data)
    if type not in subscribed_types(company_id=company.pk):
        return
    endpoints = [
        endpoint
        for endpoint in WebhookEndpoint.objects.filter(company=company, is_active=True).only(
            "id", "events"
        )
        if type in endpoint.events
    ]
    if not endpoints:
        return
    now = timezone.now()
    event = WebhookEvent(company=company, type=type, object_id=object_id, created_at=now)
    event.payload = json.dumps(
        {
            "id": event.public_id,
            "type": type,
            "timestamp": now.isoformat().replace("+00:00", "Z"),
            "data": dict(data),
        },
        separators=(",", ":"),
        default=str,
    )
    with transaction.atomic():
        event.save()
        deliveries = WebhookDelivery.objects.bulk_create(
            [
                WebhookDelivery(event=event, endpoint=endpoint, next_attempt_at=now)
                for endpoint in endpoints
            ]
        )
    ids = [delivery.pk for delivery in deliveries]
    transaction.on_commit(lambda: _queue(ids))


def _subscriptions_key(company_id: int) -> str:
    return f"webhooks:subscribed:{company_id}"


# Within subscriptions_read_once(): what each company's endpoints want, as read first there.
_read_once: ContextVar[dict[int, frozenset[str]] | None] = ContextVar(
    "subscriptions_read_once", default=None
)


@contextlib.contextmanager
def subscriptions_read_once() -> Iterator[None]:
    """Each company's subscriptions are read once inside (a batch of events written in one
    transaction, such as a flush of views), not once per event."""
    token = _read_once.set({})
    try:
        yield
    finally:
        _read_once.reset(token)


def subscribed_types(*, company_id: int) -> frozenset[str]:
    """The event types the company's enabled endpoints want: read once, then from the cache
    (frequent events such as views cost no query when nobody listens). Every change to the
    company's endpoints forgets it; without a cache it is read each time."""
    read_once = _read_once.get()
    if read_once is not None:
        if company_id not in read_once:
            read_once[company_id] = _subscribed_types(company_id)
        return read_once[company_id]
    return _subscribed_types(company_id)


def _subscribed_types(company_id: int) -> frozenset[str]:
    key = _subscriptions_key(company_id)
    try:
        cached = cache.get(key)
    except Exception:
        cached = None
    if cached is not None:
        return frozenset(cached)
    types = frozenset(
        name
        for names in WebhookEndpoint.objects.filter(
            company_id=company_id, is_active=True
        ).values_list("events", flat=True)
        for name in names
    )
    try:
        cache.set(key, sorted(types), SUBSCRIPTIONS_CACHED_FOR)
    except Exception:
        logger.warning("webhooks.cache_unavailable", exc_info=True)
    return types


def subscriptions_changed(*, company_id: int) -> None:
    """Forget the cached subscriptions, now and again once the change commits (so a reader
    in between cannot cache the old list for long)."""

    def forget() -> None:
        read_once = _read_once.get()
        if read_once is not None:
            read_once.pop(company_id, None)
        try:
            cache.delete(_subscriptions_key(company_id))
        except Exception:
            logger.warning("webhooks.cache_unavailable", exc_info=True)

    forget()
    transaction.on_commit(forget)


def _queue(delivery_ids: Sequence[int], countdown: float = 0) -> None:
    from invoices.webhooks.tasks import deliver_task

    for delivery_id in delivery_ids:
        try:
            deliver_task.apply_async(args=[delivery_id], countdown=countdown)
        except Exception:
            # Broker down: the periodic sweep sends it.
            logger.warning("webhooks.queue_failed delivery=%s", delivery_id, exc_info=True)


# Endpoints -------------------------------------------------------------------------------


def _events_check(names: Sequence[str]) -> list[str]:
    unknown = [name for name in names if name not in EVENT_TYPES]
    if unknown or not names:
        raise WebhookError(
            "invalid",
            f"Unknown event: {unknown[0]}." if unknown else "Subscribe to at least one event.",
            "events",
        )
    return list(dict.fromkeys(names))


@transaction.atomic
def endpoint_create(
    *,
    company: Company,
    url: str,
    events_: Sequence[str],
    description: str = "",
    actor: Actor = None,
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret, to be shown once."""
    target_check_at_creation(url)
    names = _events_check(events_)
    Company.objects.select_for_update().only("id").get(pk=company.pk)
    if WebhookEndpoint.objects.filter(company=company).count() >= MAX_ENDPOINTS:
        raise WebhookError(
            "limit_reached", f"A company may have at most {MAX_ENDPOINTS} webhook endpoints."
        )
    secret = signing.new_secret()
    endpoint = WebhookEndpoint.objects.create(
        company=company,
        url=url,
        events=names,
        description=description,
        secret_encrypted=encrypt_secret(secret),
    )
    subscriptions_changed(company_id=company.pk)
    events.record(
        company=company,
        action="webhook_endpoint.created",
        object_id=endpoint.public_id,
        actor=actor,
        url=url,
        events=names,
    )
    return endpoint, secret


@transaction.atomic
def endpoint_delete(*, endpoint: WebhookEndpoint, actor: Actor = None) -> None:
    events.record(
        company=endpoint.company,
        action="webhook_endpoint.deleted",
        object_id=endpoint.public_id,
        actor=actor,
        url=endpoint.url,
    )
    endpoint.delete()
    subscriptions_changed(company_id=endpoint.company_id)


@transaction.atomic
def endpoint_secret_rotate(*, endpoint: WebhookEndpoint, actor: Actor = None) -> str:
    """A new secret (shown once); the old one keeps signing for ROTATION_OVERLAP, so receivers
    can switch without losing a message."""
    locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    secret = signing.new_secret()
    locked.previous_secret_encrypted = locked.secret_encrypted
    locked.previous_secret_expires_at = timezone.now() + ROTATION_OVERLAP
    locked.secret_encrypted = encrypt_secret(secret)
    locked.save(
        update_fields=[
            "secret_encrypted",
            "previous_secret_encrypted",
            "previous_secret_expires_at",
        ]
    )
    events.record(
        company=locked.company,
        action="webhook_endpoint.secret_rotated",
        object_id=locked.public_id,
        actor=actor,
    )
    return secret


@transaction.atomic
def endpoint_enable(*, endpoint: WebhookEndpoint, actor: Actor = None) -> None:
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        is_active=True, disabled_at=None, disabled_reason="", failing_since=None
    )
    subscriptions_changed(company_id=endpoint.company_id)
    events.record(
        company=endpoint.company,
        action="webhook_endpoint.enabled",
        object_id=endpoint.public_id,
        actor=actor,
    )


def endpoint_signing_secrets(endpoint: WebhookEndpoint, *, now: dt.datetime) -> list[str]:
    secrets_ = [decrypt_secret(endpoint.secret_encrypted)]
    if (
        endpoint.previous_secret_encrypted
        and endpoint.previous_secret_expires_at is not None
        and endpoint.previous_secret_expires_at > now
    ):
        secrets_.append(decrypt_secret(endpoint.previous_secret_encrypted))
    return secrets_


# Delivering ------------------------------------------------------------------------------


def _claim(delivery_id: int, now: dt.datetime) -> bool:
    """Take the delivery for one send (a conditional UPDATE): False when it is not due, done,
    or another worker holds it."""
    due = Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now) | Q(
        status=DeliveryStatus.SENDING, locked_until__lt=now
    )
    return (
        WebhookDelivery.objects.filter(due, pk=delivery_id).update(
            status=DeliveryStatus.SENDING, locked_until=now + SEND_CLAIM
        )
        == 1
    )


def delivery_send(*, delivery_id: int) -> str | None:
    """One try of a delivery: sign, POST, log the attempt, then succeed, schedule the next
    try, or fail for good (and disable an endpoint that keeps failing). Returns the status."""
    now = timezone.now()
    if not _claim(delivery_id, now):
        return None
    delivery = WebhookDelivery.objects.select_related("event", "endpoint__company").get(
        pk=delivery_id
    )
    endpoint = delivery.endpoint
    if not endpoint.is_active:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.CANCELLED, locked_until=None
        )
        return DeliveryStatus.CANCELLED
    body = delivery.event.payload.encode()
    headers = signing.headers(
        secrets_=endpoint_signing_secrets(endpoint, now=now),
        message_id=delivery.event.public_id,
        timestamp=int(now.timestamp()),
        body=body,
    )
    result = post(endpoint.url, body=body, headers=headers)
    attempts = delivery.attempts + 1
    WebhookAttempt.objects.create(
        delivery=delivery,
        attempted_at=now,
        status_code=result.status_code,
        duration_ms=result.duration_ms,
        response_excerpt=result.excerpt,
        error=result.error,
        succeeded=result.succeeded,
    )
    update: dict[str, Any] = {
        "attempts": attempts,
        "last_status_code": result.status_code,
        "locked_until": None,
        "updated_at": timezone.now(),
    }
    if result.succeeded:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.SUCCEEDED, next_attempt_at=None, **update
        )
        if endpoint.failing_since is not None:
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=None)
        return DeliveryStatus.SUCCEEDED
    logger.info(
        "webhooks.failed delivery=%s endpoint=%s status=%s error=%s",
        delivery.pk,
        endpoint.public_id,
        result.status_code,
        result.error,
    )
    WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(
        failing_since=now
    )
    if attempts <= len(RETRY_DELAYS):
        delay = RETRY_DELAYS[attempts - 1]
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.PENDING, next_attempt_at=now + delay, **update
        )
        if delay <= COUNTDOWN_LIMIT:
            _queue([delivery.pk], countdown=delay.total_seconds())
        return DeliveryStatus.PENDING
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.FAILED, next_attempt_at=None, **update
    )
    endpoint_disable_if_failing(endpoint_id=endpoint.pk)
    return DeliveryStatus.FAILED


def endpoint_disable_if_failing(*, endpoint_id: int) -> bool:
    """Disable an endpoint that has not taken a delivery since a delivery failed for good
    (every retry, about a day), and tell the company by email."""
    with transaction.atomic():
        endpoint = (
            WebhookEndpoint.objects.select_for_update()
            .select_related("company")
            .get(pk=endpoint_id)
        )
        if not endpoint.is_active or endpoint.failing_since is None:
            return False
        now = timezone.now()
        endpoint.is_active = False
        endpoint.disabled_at = now
        endpoint.disabled_reason = "Every delivery failed since " + endpoint.failing_since.strftime(
            "%Y-%m-%d %H:%M UTC"
        )
        endpoint.save(update_fields=["is_active", "disabled_at", "disabled_reason"])
        subscriptions_changed(company_id=endpoint.company_id)
        WebhookDelivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.CANCELLED
        )
        events.record(
            company=endpoint.company,
            action="webhook_endpoint.disabled",
            object_id=endpoint.public_id,
            reason=endpoint.disabled_reason,
        )
        recipients = _company_recipients(endpoint.company)
        subject = "Webhook endpoint disabled"
        message = (
            f"We stopped sending webhooks to {endpoint.url} ({endpoint.public_id}): "
            f"{endpoint.disabled_reason.lower()}, through every retry.\n\n"
            "Fix the receiver, then enable the endpoint again in the admin (Webhook endpoints); "
            "failed deliveries can be resent from there."
        )
        if recipients:
            transaction.on_commit(
                lambda: send_mail(subject, message, None, recipients, fail_silently=True)
            )
    return True


def _company_recipients(company: Company) -> list[str]:
    if company.email:
        return [company.email]
    owners = Membership.objects.filter(company=company, role=Role.OWNER).select_related("user")
    return [m.user.email for m in owners if m.user.email]


@transaction.atomic
def delivery_resend(*, delivery: WebhookDelivery, actor: Actor = None) -> None:
    """Send a delivery again now (from the admin), whatever became of it."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.PENDING, next_attempt_at=timezone.now(), locked_until=None
    )
    events.record(
        company=delivery.endpoint.company,
        action="webhook_delivery.resent",
        object_id=delivery.event.public_id,
        actor=actor,
        endpoint=delivery.endpoint.public_id,
    )
    delivery_id = delivery.pk
    transaction.on_commit(lambda: _queue([delivery_id]))


def deliveries_due(*, now: dt.datetime | None = None, limit: int = 500) -> list[int]:
    """Deliveries whose next try is due (or whose sender vanished), for the periodic sweep."""
    now = now or timezone.now()
    due = Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now) | Q(
        status=DeliveryStatus.SENDING, locked_until__lt=now
    )
    return list(
        WebhookDelivery.objects.filter(due)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
