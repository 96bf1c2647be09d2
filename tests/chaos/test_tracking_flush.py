"""Buffered page views flushed by real Celery workers (subprocesses on the test Redis and
database): one batch for what accumulated, a flush that fails on PostgreSQL retried until it
succeeds, exact counts under parallel requests, and a worker SIGKILLed in the middle of a flush
(its database session caught waiting on a row lock the test holds) losing nothing and counting
nothing twice once a new worker takes the batch over."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
from django.db import connection
from django.test import RequestFactory

from invoices.models import Company, Invoice
from tests import factories
from tests.chaos.conftest import (
    Worker,
    admin_connection,
    database_url,
    session_alive,
    sessions_waiting_on_a_lock,
    wait_until,
)
from tracking.buffer import buffer_length
from tracking.models import ViewRecord
from tracking.selectors import view_stats_for_invoice
from tracking.services import view_record_for_request, views_flush

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]

BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


def _open(invoice: Invoice, ip: str) -> None:
    request = RequestFactory().get("/invoice/x", REMOTE_ADDR=ip, HTTP_USER_AGENT=BROWSER)
    request.COOKIES = {}
    view_record_for_request(invoice=invoice, request=request)


def _counts(invoice: Invoice) -> tuple[int, int, int]:
    """(counted views, distinct addresses, records written) of the invoice."""
    stats = view_stats_for_invoice(invoice=invoice)
    return stats.view_count, stats.unique_ips, ViewRecord.objects.filter(invoice=invoice).count()


def _log(worker: Worker) -> str:
    worker.log.seek(0)
    return worker.log.read().decode(errors="replace")


@pytest.fixture
def invoice(broker: Any, tenant: Company) -> Invoice:
    invoice = factories.make_invoice(tenant)
    broker.delete("celery")  # the invoice's PDF pre-render: not what these tests are about
    return invoice


def test_a_worker_writes_what_accumulated_in_one_batch(
    broker: Any, tenant: Company, invoice: Invoice, start_worker: Callable[..., Worker]
) -> None:
    other = factories.make_invoice(tenant)
    broker.delete("celery")
    for n in range(60):
        _open((invoice, other)[n % 2], f"10.2.0.{n + 1}")
    assert buffer_length() == 60
    # One flush queued, when the buffer went from empty to non-empty.
    assert broker.llen("celery") == 1

    worker = start_worker()
    wait_until(lambda: buffer_length() == 0, timeout=60, what="the buffer to be flushed")
    assert _counts(invoice) == _counts(other) == (30, 30, 30)
    wait_until(lambda: "succeeded" in _log(worker), timeout=30, what="the task's log line")
    # One run wrote all sixty (its return value: the records it wrote).
    assert "views_flush_task" in _log(worker) and ": 60" in _log(worker)


def test_a_flush_that_fails_on_postgresql_is_retried_and_loses_nothing(
    invoice: Invoice, start_worker: Callable[..., Worker]
) -> None:
    with admin_connection() as conn:
        conn.execute("ALTER TABLE tracking_invoiceviewstats RENAME TO tracking_stats_away")
    try:
        for n in range(10):
            _open(invoice, f"10.3.0.{n + 1}")
        worker = start_worker()
        wait_until(lambda: "Retry in" in _log(worker), timeout=60, what="a failed flush's retry")
        # Nothing half-written; every open still buffered.
        assert ViewRecord.objects.count() == 0
        assert buffer_length() == 10
    finally:
        with admin_connection() as conn:
            conn.execute("ALTER TABLE tracking_stats_away RENAME TO tracking_invoiceviewstats")
    wait_until(lambda: buffer_length() == 0, timeout=60, what="the retry to flush the buffer")
    assert _counts(invoice) == (10, 10, 10)


def _open_in_thread(invoice: Invoice, ip: str) -> None:
    try:
        _open(invoice, ip)
    finally:
        connection.close()


def test_parallel_opens_are_counted_exactly_while_a_worker_flushes(
    invoice: Invoice, start_worker: Callable[..., Worker]
) -> None:
    start_worker()
    # 200 viewers, and one address opening the link 20 times, interleaved, from 8 threads
    # while the worker flushes what arrives.
    addresses = [f"10.4.{n // 200}.{n % 200 + 1}" for n in range(200)]
    for n in range(20):
        addresses.insert(n * 10, "203.0.113.99")
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda ip: _open_in_thread(invoice, ip), addresses))

    wait_until(
        lambda: buffer_length() == 0 and _counts(invoice)[2] == 220,
        timeout=90,
        what="every open to be written",
    )
    assert _counts(invoice) == (201, 201, 220)
    records = ViewRecord.objects.filter(invoice=invoice)
    assert records.filter(ip="203.0.113.99", counted=True).count() == 1
    assert records.filter(reason="rate_limited").count() == 19


class StatsRowLock:
    """Holds ``SELECT … FOR UPDATE`` on an invoice's statistics row in a transaction of its own."""

    def __init__(self, invoice_id: int) -> None:
        self.conn = psycopg.connect(database_url().replace("postgres://", "postgresql://"))
        self.conn.execute(
            "SELECT 1 FROM tracking_invoiceviewstats WHERE invoice_id = %s FOR UPDATE",
            [invoice_id],
        )

    def release(self) -> None:
        if not self.conn.closed:
            self.conn.rollback()
            self.conn.close()


@pytest.fixture
def locked_stats(broker: Any, invoice: Invoice) -> Iterator[StatsRowLock]:
    """The invoice viewed once (written), then its statistics row held locked by the test."""
    _open(invoice, "10.5.0.1")
    assert views_flush(consumer="setup") == 1
    broker.delete("celery")  # the flush that open queued: already done
    lock = StatsRowLock(invoice.pk)
    try:
        yield lock
    finally:
        lock.release()


def test_a_worker_killed_mid_flush_loses_nothing_and_counts_nothing_twice(
    invoice: Invoice, locked_stats: StatsRowLock, start_worker: Callable[..., Worker]
) -> None:
    for n in range(30):
        _open(invoice, f"10.5.1.{n + 1}")
    assert buffer_length() == 30
    quick = {"CELERY_VISIBILITY_TIMEOUT": "2", "TRACKING_FLUSH_RECLAIM_AFTER": "1"}
    first = start_worker(**quick)
    # The worker is inside the flush's transaction: records inserted, statistics waiting.
    waiting = wait_until(sessions_waiting_on_a_lock, timeout=60, what="the worker mid-flush")
    first.kill()
    locked_stats.release()
    # PostgreSQL ends the dead worker's session and rolls back its half of the batch.
    wait_until(lambda: not session_alive(int(waiting[0])), timeout=30, what="the session to end")
    assert _counts(invoice) == (1, 1, 1)
    assert buffer_length() == 30  # read by the dead worker, never acknowledged: still there

    # A new worker runs the unacknowledged message again (after the broker's visibility
    # timeout) and takes the dead flusher's batch over.
    start_worker(**quick)
    wait_until(lambda: buffer_length() == 0, timeout=90, what="the batch to be taken over")
    assert _counts(invoice) == (31, 31, 31)
    # Whatever runs next (the periodic flush) finds nothing left and counts nothing again.
    assert views_flush(consumer="after", reclaim_after=0) == 0
    assert _counts(invoice) == (31, 31, 31)
