"""Parallel opens through the real service on PostgreSQL: no lost updates."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection

from invoices.models import Company
from tests import factories
from tracking.models import InvoiceViewer, ViewRecord
from tracking.selectors import view_stats_for_invoice
from tracking.services import Visit, view_record

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL: parallel writers on real connections (SQLite has one writer)",
    ),
    pytest.mark.django_db(transaction=True),
]

BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
WORKERS = 20


def _open_in_thread(invoice: Any, ip: str) -> bool:
    """One open on this thread's own database connection, closed afterwards."""
    try:
        record = view_record(invoice=invoice, visit=Visit(ip=ip, user_agent=BROWSER))
        return record is not None and record.counted
    finally:
        connection.close()


def test_it_counts_200_parallel_viewers_exactly(tenant: Company) -> None:
    invoice = factories.make_invoice(tenant)
    ips = [f"10.1.{n // 200}.{n % 200 + 1}" for n in range(200)]

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        counted = list(pool.map(lambda ip: _open_in_thread(invoice, ip), ips))

    assert all(counted)
    stats = view_stats_for_invoice(invoice=invoice)
    assert stats.view_count == 200
    assert stats.unique_ips == 200
    assert ViewRecord.objects.filter(invoice=invoice, counted=True).count() == 200
    assert stats.first_viewed_at is not None and stats.last_viewed_at is not None
    assert stats.first_viewed_at <= stats.last_viewed_at


def test_it_counts_one_view_for_parallel_opens_from_one_address(tenant: Company) -> None:
    invoice = factories.make_invoice(tenant)

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        counted = list(pool.map(lambda _: _open_in_thread(invoice, "203.0.113.99"), range(20)))

    assert counted.count(True) == 1
    stats = view_stats_for_invoice(invoice=invoice)
    assert (stats.view_count, stats.unique_ips) == (1, 1)
    assert InvoiceViewer.objects.filter(invoice=invoice).count() == 1


def test_it_counts_one_address_once_when_parallel_opens_all_count(
    tenant: Company, settings: Any
) -> None:
    # With the cache down the refresh-storm rule cannot run and every open counts (fail open):
    # twenty parallel opens from one address then race on the distinct-IP row itself.
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
        }
    }
    invoice = factories.make_invoice(tenant)

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        counted = list(pool.map(lambda _: _open_in_thread(invoice, "203.0.113.98"), range(20)))

    assert all(counted)
    stats = view_stats_for_invoice(invoice=invoice)
    assert (stats.view_count, stats.unique_ips) == (20, 1)
