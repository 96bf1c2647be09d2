"""The Redis buffer between an invoice page and the tracking tables.

A request appends its classified open to a Redis stream; ``tracking.services.views_flush``
(a Celery task) reads the stream through a consumer group and writes each batch to PostgreSQL.

Why a stream with a consumer group, and not a list with ``LMOVE`` to a processing list:
entries a flusher has read stay in the group's pending list, owned by that flusher, until it
acknowledges them after its commit. A flusher that dies mid-batch (SIGKILL, OOM) leaves them
pending: its own retry reads them again by its name (the Celery task id), and any other flusher
takes them over with ``XAUTOCLAIM`` once they have been idle for ``RECLAIM_AFTER``. A list
would need one processing list per flusher and a way to tell a dead flusher's list from a slow
one's; the group keeps both the ownership and the idle time. A flusher killed after its commit
but before ``XACK`` has its batch read again: every open carries a ``visit_key`` that the table
holds unique, so the second insert writes nothing and counts nothing.

The request side is one round trip: a Lua script applies the refresh-storm counters (the same
keys, limits and window as the cache-based check in ``tracking.services``) and appends the open
in the same atomic step, and answers how long the stream now is, so the caller queues a flush
only when the buffer goes from empty to non-empty (a flusher drains until the stream is empty;
the periodic flush is the safety net for a lost message).
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.cache import cache
from redis import Redis
from redis.commands.core import Script
from redis.exceptions import ResponseError

from core.redis_cache import cache_is_redis, cache_redis

logger = logging.getLogger(__name__)

GROUP = "flush"
# Consumers of the group that own nothing and have been idle this long (milliseconds) were
# flushers that are gone; they are forgotten.
CONSUMER_FORGET_AFTER = 3_600_000

# KEYS: 1 this address's window counter, 2 the invoice's, 3 the stream.
# ARGV: 1 window (seconds), 2 record limit, 3 invoice count limit,
#       4 why the open does not count ("" if it is a view so far), 5 the open (JSON).
# Answers {appended (0/1), reason, stream length}.
_PUSH = """
local function hit(key)
    local n = redis.call('INCR', key)
    if n == 1 then redis.call('EXPIRE', key, ARGV[1]) end
    return n
end
local reason = ARGV[4]
if reason ~= '' then
    if hit(KEYS[1]) > tonumber(ARGV[2]) then return {0, reason, 0} end
else
    local opens = hit(KEYS[1])
    if opens > tonumber(ARGV[2]) then return {0, 'rate_limited', 0} end
    if opens > 1 or hit(KEYS[2]) > tonumber(ARGV[3]) then reason = 'rate_limited' end
end
redis.call('XADD', KEYS[3], '*', 'visit', ARGV[5], 'reason', reason)
return {1, reason, redis.call('XLEN', KEYS[3])}
"""
_push_script: Script | None = None


def buffer_available() -> bool:
    """Buffering needs the default cache to be Redis (django-redis) and the database to be
    PostgreSQL (the batch write is PostgreSQL's SQL); otherwise views are written directly."""
    return bool(settings.TRACKING_BUFFERED) and cache_is_redis()


def _redis() -> Redis:
    return cache_redis()


def stream_key() -> str:
    return cache.make_key("tracking:buffer")


def window_key(invoice_id: int, ip: str | None, *, counted: bool) -> str:
    """The refresh-storm counter of one address (opens that may count, or the others)."""
    return cache.make_key(
        f"tracking:{invoice_id}:{ip or 'unknown'}:{'open' if counted else 'other'}"
    )


def invoice_window_key(invoice_id: int) -> str:
    return cache.make_key(f"tracking:{invoice_id}:all")


def buffer_push(
    *,
    counter_key: str,
    invoice_counter_key: str,
    window: int,
    record_limit: int,
    invoice_count_limit: int,
    reason: str,
    payload: str,
) -> tuple[bool, str, int]:
    """Applies the refresh-storm rule and appends the open, atomically, in one round trip:
    (appended?, reason it does not count, the stream's length after it). Raises RedisError
    when Redis cannot be reached."""
    global _push_script
    client = _redis()
    if _push_script is None:
        _push_script = client.register_script(_PUSH)
    appended, final_reason, length = _push_script(
        keys=[counter_key, invoice_counter_key, stream_key()],
        args=[window, record_limit, invoice_count_limit, reason, payload],
        client=client,
    )
    if isinstance(final_reason, bytes):
        final_reason = final_reason.decode()
    return bool(appended), str(final_reason), int(length)


def buffer_length() -> int:
    """Opens buffered and not yet written (read or not)."""
    length: Any = _redis().xlen(stream_key())
    return int(length)


def _group_ensure(client: Redis, key: str) -> None:
    try:
        # From the stream's start: opens buffered before the group existed are read too.
        client.xgroup_create(key, GROUP, id="0", mkstream=True)
    except ResponseError as error:
        if "BUSYGROUP" not in str(error):
            raise


def _entries(raw: Any) -> list[tuple[str, dict[str, str]]]:
    entries = []
    for entry_id, fields in raw or []:
        decoded = {
            (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in (fields or {}).items()
        }
        entries.append((entry_id.decode() if isinstance(entry_id, bytes) else entry_id, decoded))
    return entries


def buffer_claim(
    *, consumer: str, count: int, reclaim_after: float
) -> list[tuple[str, dict[str, str]]]:
    """Up to ``count`` buffered opens for ``consumer``, which owns them until ``buffer_ack``:
    first those it read before and never acknowledged (its own retry), then those another
    flusher left idle for ``reclaim_after`` seconds (it died), then new ones. Entries whose
    content is gone come back with empty fields (acknowledge them)."""
    client = _redis()
    key = stream_key()
    _group_ensure(client, key)
    # redis-py's reply types cover its asyncio client too: these are plain lists here.
    mine: Any = client.xreadgroup(GROUP, consumer, {key: "0"}, count=count)
    entries = [entry for _, raw in mine or [] for entry in _entries(raw)]
    if len(entries) < count:
        reply: Any = client.xautoclaim(
            key,
            GROUP,
            consumer,
            min_idle_time=int(reclaim_after * 1000),
            count=count - len(entries),
        )
        entries += _entries(reply[1])
    if len(entries) < count:
        new: Any = client.xreadgroup(GROUP, consumer, {key: ">"}, count=count - len(entries))
        entries += [entry for _, raw in new or [] for entry in _entries(raw)]
    return list(dict(entries).items())


def buffer_ack(entry_ids: list[str]) -> None:
    """The opens are in PostgreSQL (committed): out of the group's pending list and the stream,
    in one atomic round trip."""
    if not entry_ids:
        return
    key = stream_key()
    with _redis().pipeline(transaction=True) as pipe:
        pipe.xack(key, GROUP, *entry_ids)
        pipe.xdel(key, *entry_ids)
        pipe.execute()


def consumers_forget(*, consumer: str) -> None:
    """Removes ``consumer`` (done, owning nothing) and any consumer left behind by a flusher
    that died long ago and whose opens others have taken over."""
    client = _redis()
    key = stream_key()
    try:
        consumers: Any = client.xinfo_consumers(key, GROUP)
    except ResponseError:  # no stream or no group: nothing to forget
        return
    for info in consumers:
        name = info["name"].decode() if isinstance(info["name"], bytes) else str(info["name"])
        idle_enough = name == consumer or int(info["idle"]) > CONSUMER_FORGET_AFTER
        if int(info["pending"]) == 0 and idle_enough:
            client.xgroup_delconsumer(key, GROUP, name)
