"""Fan-out of "invoice N has a new comment" to every open stream, on a per-invoice channel.

With ``REDIS_URL`` set, Redis pub/sub carries the news between processes: the WSGI process that
saved the comment publishes, and each ASGI stream subscribes to its invoice's channel. Without
Redis (SQLite, ``make run``) an in-process registry does the same within one process, which is
all the dev server has. A message only says "look again": streams read the comments themselves
from the database after their last id, so a lost or duplicated message loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

import redis
import redis.asyncio as aioredis
from django.conf import settings

logger = logging.getLogger(__name__)

_sync_client: redis.Redis | None = None
_sync_client_url = ""


def channel_name(invoice_id: int) -> str:
    return f"comments:invoice:{invoice_id}"


def _redis() -> redis.Redis:
    global _sync_client, _sync_client_url
    if _sync_client is None or _sync_client_url != settings.REDIS_URL:
        _sync_client = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2
        )
        _sync_client_url = settings.REDIS_URL
    return _sync_client


def publish(*, invoice_id: int, number: int) -> None:
    """Tell every stream of the invoice to look again. Never raises: a comment is saved whether
    or not the news travels, and streams also re-read on every heartbeat."""
    if settings.REDIS_URL:
        try:
            _redis().publish(channel_name(invoice_id), str(number))
        except redis.RedisError:
            logger.warning("comments: publish failed for invoice %s", invoice_id, exc_info=True)
    else:
        _local_publish(invoice_id)


class Subscription(Protocol):
    async def wait(self, timeout: float) -> bool:
        """True when news arrived within ``timeout`` seconds, False on timeout."""
        ...


# In-process fallback ------------------------------------------------------------------------

_local_lock = threading.Lock()
_local_listeners: dict[int, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = defaultdict(set)


def _local_publish(invoice_id: int) -> None:
    with _local_lock:
        listeners = list(_local_listeners.get(invoice_id, ()))
    for loop, event in listeners:
        # Streams run on an event loop, publishers in worker threads: hand over thread-safely.
        # RuntimeError: that loop has closed, so its stream is gone.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(event.set)


class _LocalSubscription:
    def __init__(self, invoice_id: int) -> None:
        self.invoice_id = invoice_id
        self.event = asyncio.Event()
        self.entry = (asyncio.get_running_loop(), self.event)
        with _local_lock:
            _local_listeners[invoice_id].add(self.entry)

    async def wait(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self.event.wait(), timeout)
        except TimeoutError:
            return False
        self.event.clear()
        return True

    def close(self) -> None:
        with _local_lock:
            listeners = _local_listeners.get(self.invoice_id)
            if listeners is not None:
                listeners.discard(self.entry)
                if not listeners:
                    del _local_listeners[self.invoice_id]


# Redis ------------------------------------------------------------------------------------


class _RedisSubscription:
    def __init__(self, pubsub: Any) -> None:
        self.pubsub = pubsub

    async def wait(self, timeout: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (left := deadline - loop.time()) > 0:
            # None both on timeout and for the (ignored) subscribe confirmation.
            message = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=left)
            if message is not None and message.get("type") == "message":
                return True
        return False


@asynccontextmanager
async def subscribe(*, invoice_id: int) -> AsyncIterator[Subscription]:
    """Listen for news about one invoice for as long as the ``async with`` lasts."""
    if not settings.REDIS_URL:
        local = _LocalSubscription(invoice_id)
        try:
            yield local
        finally:
            local.close()
        return

    client = aioredis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2)
    pubsub = client.pubsub()
    try:
        await pubsub.subscribe(channel_name(invoice_id))
        yield _RedisSubscription(pubsub)
    finally:
        # Shielded: a cancelled stream (the viewer left) must still give its connection back.
        await asyncio.shield(_close_redis(client, pubsub))


async def _close_redis(client: Any, pubsub: Any) -> None:
    try:
        await pubsub.aclose()
        await client.aclose()
    except (redis.RedisError, OSError):
        logger.debug("comments: closing a Redis subscription failed", exc_info=True)
