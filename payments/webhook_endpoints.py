"""Which Stripe connection a webhook URL's key names, and its signing secret, kept per process
for a few seconds.

Every delivery needs both before anything else, and reading them costs a query and a Fernet
decryption: at hundreds of deliveries a second that was a good part of the request. What is
kept is only the connection's id and secret, never a model instance shared between threads.

How fresh it stays: saving or deleting a connection forgets its entry in this process at once
(a signal); other processes read it again after ENDPOINT_TTL_SECONDS. A signature that does not
check out with the kept secret is checked again against a fresh read, so a new secret works at
once everywhere. A deactivated connection, or an old secret, may be accepted by another process
for at most ENDPOINT_TTL_SECONDS after the change; its events are only stored and processed as
any signed event of that account would be.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from payments import selectors, services
from payments.models import StripeConnection

ENDPOINT_TTL_SECONDS = 10.0


@dataclass(frozen=True)
class WebhookEndpoint:
    connection_id: int
    signing_secret: str
    read_at: float

    def fresh(self, now: float) -> bool:
        return now - self.read_at < ENDPOINT_TTL_SECONDS


# A plain dict: reads and writes of one key are atomic under the GIL, and a race between two
# threads only reads the row twice. Only keys of active connections are kept (bounded by them).
_by_key: dict[str, WebhookEndpoint] = {}


def endpoint_for_key(webhook_key: str, *, reread: bool = False) -> WebhookEndpoint | None:
    """The active connection of ``webhook_key`` (None: no such active connection); read from
    the database when not kept, older than ENDPOINT_TTL_SECONDS, or ``reread``."""
    now = time.monotonic()
    kept = _by_key.get(webhook_key)
    if kept is not None and not reread and kept.fresh(now):
        return kept
    connection = selectors.connection_for_webhook_key(webhook_key)
    if connection is None:
        _by_key.pop(webhook_key, None)
        return None
    endpoint = WebhookEndpoint(
        connection_id=connection.pk,
        signing_secret=services.connection_webhook_secret(connection),
        read_at=now,
    )
    _by_key[webhook_key] = endpoint
    return endpoint


@receiver(post_save, sender=StripeConnection)
@receiver(post_delete, sender=StripeConnection)
def _forget(sender: Any, instance: StripeConnection, **kwargs: Any) -> None:
    _by_key.pop(instance.webhook_key, None)
