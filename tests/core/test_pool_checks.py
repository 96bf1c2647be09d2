"""A pooled connection is checked with a round trip only when its socket shows it was dropped
or after it sat idle; a dropped one never reaches a request."""

from __future__ import annotations

import select
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from django.db import connection
from psycopg_pool import ConnectionPool

from core import pool_checks
from core.pool_checks import connection_check, connection_returned

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db]


def _conninfo() -> str:
    db = connection.settings_dict
    password = f" password={db['PASSWORD']}" if db["PASSWORD"] else ""
    return (
        f"host={db['HOST'] or '127.0.0.1'} port={db['PORT'] or 5432} "
        f"user={db['USER']}{password} dbname=postgres"
    )


@pytest.fixture
def watcher() -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(_conninfo(), autocommit=True) as conn:
        yield conn


def _last_query(watcher: psycopg.Connection[Any], pid: int) -> str:
    row = watcher.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()
    assert row is not None
    return str(row[0])


def _terminated(watcher: psycopg.Connection[Any], conn: psycopg.Connection[Any]) -> None:
    """Ends ``conn``'s session from outside, as a restart does, and waits for its socket to say so."""
    watcher.execute("SELECT pg_terminate_backend(%s)", [conn.info.backend_pid])
    poller = select.poll()
    poller.register(conn.pgconn.socket, select.POLLIN)
    assert poller.poll(5000), "the terminated session's socket never became readable"


def test_a_connection_just_returned_is_handed_out_without_a_round_trip(
    watcher: psycopg.Connection[Any],
) -> None:
    with psycopg.connect(_conninfo(), autocommit=True) as conn:
        conn.execute("SELECT 'before the check'")
        connection_returned(conn)
        connection_check(conn)
        assert _last_query(watcher, conn.info.backend_pid) == "SELECT 'before the check'"


def test_a_connection_idle_too_long_or_never_seen_is_checked_with_a_round_trip(
    watcher: psycopg.Connection[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    with psycopg.connect(_conninfo(), autocommit=True) as conn:
        conn.execute("SELECT 'before the check'")
        # Never returned to a pool (just opened): checked.
        connection_check(conn)
        assert _last_query(watcher, conn.info.backend_pid) == ""
        conn.execute("SELECT 'before the check'")
        monkeypatch.setattr(pool_checks, "IDLE_SECONDS_CHECKED", 0.01)
        connection_returned(conn)
        time.sleep(0.05)
        connection_check(conn)
        assert _last_query(watcher, conn.info.backend_pid) == ""


def test_a_terminated_session_fails_the_check(watcher: psycopg.Connection[Any]) -> None:
    with psycopg.connect(_conninfo(), autocommit=True) as conn:
        connection_returned(conn)
        _terminated(watcher, conn)
        with pytest.raises(psycopg.OperationalError):
            connection_check(conn)


def test_the_pool_replaces_a_terminated_connection(watcher: psycopg.Connection[Any]) -> None:
    pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
        _conninfo(),
        min_size=1,
        max_size=1,
        check=connection_check,
        reset=connection_returned,
        kwargs={"autocommit": True},
    )
    with pool:
        conn = pool.getconn()
        first_pid = conn.info.backend_pid
        pool.putconn(conn)
        _terminated(watcher, conn)
        with pool.connection() as again:
            assert again.execute("SELECT 1").fetchone() == (1,)
            assert again.info.backend_pid != first_pid
