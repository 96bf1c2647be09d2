"""Fan-out of new comments to every open stream, on a per-invoice channel.

With ``REDIS_URL`` set, Redis pub/sub carries them between processes: the WSGI process that
saved the comment publishes, and each ASGI stream subscribes to its invoice's channel. Without
Redis (SQLite, ``make run``) an in-process registry does the same within one process, which is
all the dev server has.

A message carries the comment as customers see it, so a thousand streams do not each go back to
the database for it. The database stays the truth: a stream that sees a gap in the ids (a lost
message) or hears nothing for a while reads what it missed from there.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any, Protocol

import redis
import redis.asyncio as aioredis
from django.conf import settings

logger = logging.getLogger(__name__)

Payload = dict[str, Any]

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


def publish(*, invoice_id: int, comment: Payload) -> None:
    """Send a saved comment to the invoice's streams. Never raises: the comment is saved whether
    or not the news travels, and streams catch up from the database on their next heartbeat."""
    if settings.REDIS_URL:
        try:
            _redis().publish(channel_name(invoice_id), json.dumps(comment))
        except redis.RedisError:
            logger.warning("comments: publish failed for invoice %s", invoice_id, exc_info=True)
    else:
        _local_publish(invoice_id, comment)


class Subscription(Protocol):
    async def receive(self, timeout: float) -> list[Payload] | None:
        """The comments published within ``timeout`` seconds, or None if none came."""
        ...


# In-process fallback ------------------------------------------------------------------------

_Listener = tuple[asyncio.AbstractEventLoop, "asyncio.Queue[Payload]"]
_local_lock = threading.Lock()
_local_listeners: dict[int, set[_Listener]] = defaultdict(set)


def _local_publish(invoice_id: int, comment: Payload) -> None:
    with _local_lock:
        listeners = list(_local_listeners.get(invoice_id, ()))
    for loop, queue in listeners:
        # Streams run on an event loop, publishers in worker threads: hand over thread-safely.
        # RuntimeError: that loop has closed, so its stream is gone.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(queue.put_nowait, comment)


class _LocalSubscription:
    def __init__(self, invoice_id: int) -> None:
        self.invoice_id = invoice_id
        self.queue: asyncio.Queue[Payload] = asyncio.Queue()
        self.entry: _Listener = (asyncio.get_running_loop(), self.queue)
        with _local_lock:
            _local_listeners[invoice_id].add(self.entry)

    async def receive(self, timeout: float) -> list[Payload] | None:
        try:
            first = await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None
        batch = [first]
        while not self.queue.empty():
            batch.append(self.queue.get_nowait())
        return batch

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

    async def receive(self, timeout: float) -> list[Payload] | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (left := deadline - loop.time()) > 0:
            # None both on timeout and for the (ignored) subscribe confirmation.
            message = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=left)
            if message is None or message.get("type") != "message":
                continue
            try:
                payload = json.loads(message["data"])
            except (TypeError, ValueError):
                payload = None
            # A message we cannot read still means "something new": an empty batch makes the
            # stream read the database.
            return [payload] if isinstance(payload, dict) else []
        return None


@contextlib.asynccontextmanager
async def subscribe(*, invoice_id: int) -> AsyncIterator[Subscription]:
    """Listen for one invoice's new comments for as long as the ``async with`` lasts."""
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
