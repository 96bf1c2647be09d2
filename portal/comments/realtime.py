"""Fan-out of new comments to every open stream, on a per-invoice channel.

With ``REDIS_URL`` set (production), Redis pub/sub carries them between processes: the WSGI
process that saved the comment publishes, and each ASGI stream subscribes to its invoice's
channel. Without Redis (``make run``: SQLite, the in-process cache, eager Celery) an in-process
registry hands each comment to the streams of the process that saved it. That is every stream
there: ``make run`` serves pages, posts and streams from one ASGI process with one worker. Where
several processes serve without Redis (more workers, or separate page and stream servers), a
stream in another process misses the news but not the comment: it reads the database at its
next heartbeat (15 s), so comments arrive late, never lost. Hence Redis in production.

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
from redis.connection import parse_url

logger = logging.getLogger(__name__)

Payload = dict[str, Any]

_sync_client: redis.Redis | None = None
_sync_client_url = ""


def channel_name(invoice_id: int) -> str:
    """The invoice's channel. Pub/sub channels are global to the Redis server, not kept apart by
    database number as keys are: the name carries REDIS_URL's database, so deployments (or test
    runs) sharing a server on different databases never hear each other's comments."""
    db = parse_url(settings.REDIS_URL).get("db", 0) if settings.REDIS_URL else 0
    return f"comments:db{db}:invoice:{invoice_id}"


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
        """The comments published within ``timeout`` seconds, or None if none came. Raises
        ``redis.ConnectionError`` once the fan-out has failed (the stream then ends)."""
        ...


# A listener's queue receives comment payloads, or this marker when the fan-out broke.
_FAILED: Payload = {"failed": True}


class _QueueSubscription:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[Payload] = asyncio.Queue()

    async def receive(self, timeout: float) -> list[Payload] | None:
        try:
            first = await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None
        batch = [first]
        while not self.queue.empty():
            batch.append(self.queue.get_nowait())
        if any(item is _FAILED for item in batch):
            raise redis.ConnectionError("the comment fan-out lost Redis")
        return batch


# In-process fan-out (no Redis) -------------------------------------------------------------
# Complete only where one process serves every stream and every post, as under make run (see
# the module docstring).

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


# Redis: one connection per event loop (one per ASGI worker), shared by all its streams -------


class _RedisHub:
    """Subscribes to a channel while at least one stream of that invoice is open, and hands
    each message to those streams' queues. Closes itself when the last stream leaves."""

    def __init__(self, url: str) -> None:
        self.client = aioredis.Redis.from_url(url, socket_connect_timeout=2)
        self.pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        self.queues: dict[str, set[asyncio.Queue[Payload]]] = defaultdict(set)
        self.lock = asyncio.Lock()
        self.reader: asyncio.Task[None] | None = None
        self.closed = False

    async def add(self, channel: str, queue: asyncio.Queue[Payload]) -> bool:
        """Join; False if this hub closed meanwhile (the caller then starts a new one)."""
        async with self.lock:
            if self.closed:
                return False
            if not self.queues.get(channel):
                await self.pubsub.subscribe(channel)
            self.queues[channel].add(queue)
            if self.reader is None:
                self.reader = asyncio.create_task(self._read())
            return True

    async def remove(self, channel: str, queue: asyncio.Queue[Payload]) -> None:
        async with self.lock:
            listeners = self.queues.get(channel)
            if listeners is not None:
                listeners.discard(queue)
                if not listeners:
                    del self.queues[channel]
                    with contextlib.suppress(redis.RedisError, OSError):
                        await self.pubsub.unsubscribe(channel)
            if not self.queues:
                await self._close()

    async def _read(self) -> None:
        try:
            while not self.closed:
                message = await self.pubsub.get_message(timeout=1.0)
                if message is None or message.get("type") != "message":
                    continue
                channel = message["channel"]
                channel = channel.decode() if isinstance(channel, bytes) else str(channel)
                try:
                    payload = json.loads(message["data"])
                except (TypeError, ValueError):
                    payload = None
                # A message we cannot read still means "something new": an empty payload
                # makes the stream read the database.
                item = payload if isinstance(payload, dict) else {}
                for queue in list(self.queues.get(channel, ())):
                    queue.put_nowait(item)
        except (redis.RedisError, OSError):
            logger.warning("comments: the Redis fan-out failed", exc_info=True)
            self._fail()

    def _fail(self) -> None:
        # Every stream ends (and reconnects later through a fresh hub).
        self.closed = True
        _hubs.pop(asyncio.get_running_loop(), None)
        for listeners in self.queues.values():
            for queue in listeners:
                queue.put_nowait(_FAILED)

    async def _close(self) -> None:
        self.closed = True
        loop = asyncio.get_running_loop()
        if _hubs.get(loop) is self:
            del _hubs[loop]
        if self.reader is not None and self.reader is not asyncio.current_task():
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, redis.RedisError, OSError):
                await self.reader
        with contextlib.suppress(redis.RedisError, OSError):
            await self.pubsub.aclose()
            await self.client.aclose()


_hubs: dict[asyncio.AbstractEventLoop, _RedisHub] = {}


@contextlib.asynccontextmanager
async def subscribe(*, invoice_id: int) -> AsyncIterator[Subscription]:
    """Listen for one invoice's new comments for as long as the ``async with`` lasts."""
    subscription = _QueueSubscription()
    if not settings.REDIS_URL:
        entry: _Listener = (asyncio.get_running_loop(), subscription.queue)
        with _local_lock:
            _local_listeners[invoice_id].add(entry)
        try:
            yield subscription
        finally:
            with _local_lock:
                _local_listeners[invoice_id].discard(entry)
                if not _local_listeners[invoice_id]:
                    del _local_listeners[invoice_id]
        return

    loop = asyncio.get_running_loop()
    channel = channel_name(invoice_id)
    while True:
        hub = _hubs.get(loop)
        if hub is None or hub.closed:
            hub = _hubs[loop] = _RedisHub(settings.REDIS_URL)
        try:
            if await hub.add(channel, subscription.queue):
                break
        except BaseException:
            # Shielded: a stream cancelled while subscribing must not leave the hub half open.
            await asyncio.shield(hub.remove(channel, subscription.queue))
            raise
    try:
        yield subscription
    finally:
        # Shielded: a cancelled stream (the viewer left) must still leave the hub.
        await asyncio.shield(hub.remove(channel, subscription.queue))
