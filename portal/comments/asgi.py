"""Keep long-lived comment streams from each holding a thread and a database connection.

Django's ASGI handler gives every request its own thread for sync code (asgiref's
ThreadSensitiveContext); the thread, and the database connection opened in it, live until the
response ends. For a page that is milliseconds; for a server-sent-events stream it is minutes,
so a thousand viewers would hold a thousand idle threads and PostgreSQL connections (100 is
PostgreSQL's default limit). Streams therefore skip that per-request context: their few short
sync calls (middleware, the token lookup, reading new comments) share asgiref's one sync thread
and its one connection, while the waiting itself is pure asyncio. Every other request is
handled exactly as Django does.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from django.core.handlers.asgi import ASGIHandler

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]

STREAM_PATH = re.compile(r"^/invoice/[^/]+/comments/stream$")


def is_stream_request(scope: Scope) -> bool:
    return scope.get("type") == "http" and bool(STREAM_PATH.match(scope.get("path", "")))


def share_sync_thread_for_streams(
    handler: ASGIHandler,
) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    async def application(scope: Scope, receive: Receive, send: Send) -> None:
        if is_stream_request(scope):
            # ASGIHandler.__call__ minus `async with ThreadSensitiveContext()`.
            await handler.handle(scope, receive, send)
        else:
            await handler(scope, receive, send)

    return application
