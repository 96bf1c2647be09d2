"""The check a pooled PostgreSQL connection passes before a request gets it.

psycopg's own check (``ConnectionPool.check_connection``) sends an empty query every time: a
round trip to PostgreSQL per request, a tenth of a warm customer page's cost. A connection that
went bad while it sat in the pool says so on its socket instead: a terminated session or a
restarted server sends its last message and closes, so the socket has something to read,
whereas a healthy idle connection has nothing to read. So the round trip is made only when the
socket has something to read, or when the connection sat idle long enough for a network device
between us and PostgreSQL to have dropped it silently. A connection that fails the check is
discarded and the pool hands out another (a fresh one if needed), as with psycopg's check.
"""

from __future__ import annotations

import select
import time
import weakref

from psycopg import Connection
from psycopg_pool import ConnectionPool

# Idle longer than this, a connection is checked with a round trip whatever its socket says.
IDLE_SECONDS_CHECKED = 5.0

_returned_at: weakref.WeakKeyDictionary[Connection, float] = weakref.WeakKeyDictionary()


def connection_returned(conn: Connection) -> None:
    """The pool's ``reset`` callback: remembers when ``conn`` went back to the pool."""
    _returned_at[conn] = time.monotonic()


def connection_check(conn: Connection) -> None:
    """The pool's ``check`` callback: raises when ``conn`` no longer works."""
    returned = _returned_at.get(conn)
    if (
        returned is None
        or time.monotonic() - returned > IDLE_SECONDS_CHECKED
        or _socket_has_data(conn)
    ):
        ConnectionPool.check_connection(conn)


def _socket_has_data(conn: Connection) -> bool:
    if conn.closed:
        return True
    poller = select.poll()
    poller.register(conn.pgconn.socket, select.POLLIN | select.POLLPRI)
    return bool(poller.poll(0))
