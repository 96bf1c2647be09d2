"""Tracking through the real invoice page (/invoice/<token>): what a customer's open records,
what it costs the page, and that the page survives a broken tracking write."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.test import RequestFactory

from invoices.models import Company, Invoice
from invoices.webhooks.services import subscribed_types
from tests import factories
from tracking.buffer import buffer_length
from tracking.models import InvoiceViewStats, ViewRecord
from tracking.selectors import view_stats_for_invoice
from tracking.services import view_record_for_request, views_flush

pytestmark = pytest.mark.django_db

BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the one-statement write and its query count are PostgreSQL's; SQLite takes the "
    "portable ORM path",
)


@pytest.fixture
def invoice(tenant: Company, customer: Any) -> Invoice:
    return factories.make_invoice(tenant, customer)


@pytest.fixture
def token(invoice: Invoice) -> str:
    return factories.share_token(invoice)


def open_page(client: Any, token: str, query: str = "", **headers: Any) -> Any:
    headers.setdefault("HTTP_USER_AGENT", BROWSER)
    headers.setdefault("REMOTE_ADDR", "198.51.100.23")
    return client.get(f"/invoice/{token}{query}", **headers)


def test_it_records_an_open_of_the_invoice_page(client: Any, invoice: Invoice, token: str) -> None:
    response = open_page(client, token)

    assert response.status_code == 200
    record = ViewRecord.objects.get(invoice=invoice)
    assert (record.source, record.ip, record.user_agent) == ("link", "198.51.100.23", BROWSER)
    assert record.counted
    assert view_stats_for_invoice(invoice=invoice).view_count == 1


@pytest.mark.parametrize(
    ("query", "source"),
    [
        ("", "link"),
        ("?source=email", "email"),
        ("?source=portal", "portal"),
        ("?source=api", "api"),
        ("?source=x", "link"),
    ],
)
def test_it_takes_the_source_from_the_link(
    client: Any, invoice: Invoice, token: str, query: str, source: str
) -> None:
    open_page(client, token, query)
    assert ViewRecord.objects.get(invoice=invoice).source == source


def test_it_ignores_a_forged_forwarded_header(
    client: Any, settings: Any, invoice: Invoice, token: str
) -> None:
    settings.TRUSTED_PROXY_COUNT = 0
    open_page(client, token, HTTP_X_FORWARDED_FOR="6.6.6.6")
    assert ViewRecord.objects.get(invoice=invoice).ip == "198.51.100.23"


def test_it_uses_the_address_from_the_trusted_proxy(
    client: Any, settings: Any, invoice: Invoice, token: str
) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    # The client sent "X-Forwarded-For: 6.6.6.6"; our proxy (10.0.0.5) appended the real peer.
    open_page(client, token, REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.77")
    assert ViewRecord.objects.get(invoice=invoice).ip == "203.0.113.77"


def test_it_records_head_without_counting_it(client: Any, invoice: Invoice, token: str) -> None:
    response = client.head(
        f"/invoice/{token}", HTTP_USER_AGENT=BROWSER, REMOTE_ADDR="198.51.100.23"
    )

    assert response.status_code == 200
    record = ViewRecord.objects.get(invoice=invoice)
    assert (record.counted, record.reason) == (False, "head")


def test_it_records_a_prefetch_without_counting_it(
    client: Any, invoice: Invoice, token: str
) -> None:
    open_page(client, token, HTTP_SEC_PURPOSE="prefetch;prerender")
    record = ViewRecord.objects.get(invoice=invoice)
    assert (record.counted, record.reason) == (False, "prefetch")


def test_it_records_a_mail_scanner_without_counting_it(
    client: Any, invoice: Invoice, token: str
) -> None:
    open_page(client, token, HTTP_USER_AGENT="Mozilla/5.0 (compatible; Barracuda Sentinel)")
    record = ViewRecord.objects.get(invoice=invoice)
    assert (record.counted, record.reason) == (False, "scanner")
    assert not InvoiceViewStats.objects.filter(invoice=invoice).exists()


def test_it_does_not_count_the_companys_own_staff(
    client: Any, staff: Any, invoice: Invoice, token: str
) -> None:
    client.force_login(staff)
    open_page(client, token)
    record = ViewRecord.objects.get(invoice=invoice)
    assert (record.counted, record.reason) == (False, "staff")


def test_it_counts_staff_of_another_company(
    client: Any, outsider: Any, invoice: Invoice, token: str
) -> None:
    # Staff of another company can be the customer (businesses invoice each other).
    client.force_login(outsider)
    open_page(client, token)
    assert ViewRecord.objects.get(invoice=invoice).counted


def test_it_counts_a_refresh_storm_once(client: Any, invoice: Invoice, token: str) -> None:
    for _ in range(15):
        assert open_page(client, token).status_code == 200

    assert view_stats_for_invoice(invoice=invoice).view_count == 1
    assert ViewRecord.objects.filter(invoice=invoice, reason="rate_limited").count() == 14


def test_it_does_not_record_an_unknown_token(client: Any) -> None:
    assert client.get("/invoice/not-a-token", HTTP_USER_AGENT=BROWSER).status_code == 404
    assert not ViewRecord.objects.exists()


# Cost and failure -----------------------------------------------------------------------


def _request(**meta: Any) -> Any:
    request = RequestFactory().get("/invoice/x", HTTP_USER_AGENT=BROWSER, **meta)
    request.COOKIES = {}
    return request


@postgresql_only
def test_it_adds_one_statement_inside_a_transaction_when_writing_directly(
    invoice: Invoice, django_assert_num_queries: Any, settings: Any
) -> None:
    settings.TRACKING_BUFFERED = False
    subscribed_types(company_id=invoice.company_id)  # cached after the company's first event
    # 1 SAVEPOINT (the test, like ATOMIC_REQUESTS, runs in a transaction), 2 the one write:
    # view record + distinct-IP row + statistics, 3 RELEASE SAVEPOINT.
    with django_assert_num_queries(3):
        view_record_for_request(invoice=invoice, request=_request())
    assert view_stats_for_invoice(invoice=invoice).view_count == 1


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_it_adds_one_query_to_a_request_in_autocommit_when_writing_directly(
    tenant: Company, django_assert_num_queries: Any, monkeypatch: Any, settings: Any
) -> None:
    settings.TRACKING_BUFFERED = False
    invoice = factories.make_invoice(tenant)
    subscribed_types(company_id=tenant.pk)  # cached after the company's first event
    # The first view also queues the staff notification after the write: a message to the
    # broker in production (no query); here Celery runs eagerly, so it is left out.
    monkeypatch.setattr("preferences.tasks.staff_notify_first_views.delay", lambda *args: None)
    # Production requests run in autocommit: 1 the write statement, atomic on its own.
    with django_assert_num_queries(1):
        view_record_for_request(invoice=invoice, request=_request())
    assert view_stats_for_invoice(invoice=invoice).view_count == 1
    # Its settings (asynchronous commit, lock timeout) were local to that write.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('synchronous_commit'), current_setting('lock_timeout')"
        )
        assert cursor.fetchone() == ("on", "0")


def test_it_serves_the_page_when_the_direct_tracking_write_fails(
    client: Any, invoice: Invoice, token: str, caplog: Any, settings: Any
) -> None:
    settings.TRACKING_BUFFERED = False
    # A real database error inside the tracking write: its table is gone (the test's
    # transaction rolls the DROP back afterwards).
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE tracking_invoiceviewstats")

    with caplog.at_level(logging.ERROR, logger="tracking.services"):
        response = open_page(client, token)

    assert response.status_code == 200
    assert invoice.number in response.content.decode()
    assert "could not record a view" in caplog.text
    # The savepoint kept the request's transaction usable, and the failed write left nothing.
    assert not ViewRecord.objects.filter(invoice=invoice).exists()


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_it_serves_the_page_when_the_tracking_tables_are_locked_and_writing_directly(
    client: Any, tenant: Company, caplog: Any, settings: Any
) -> None:
    settings.TRACKING_BUFFERED = False
    invoice = factories.make_invoice(tenant)
    token = factories.share_token(invoice)
    # Another session holds the strongest lock on the statistics (as a migration would).
    locker = connections.create_connection("default")
    try:
        with locker.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute("LOCK TABLE tracking_invoiceviewstats IN ACCESS EXCLUSIVE MODE")
            started = time.monotonic()
            with caplog.at_level(logging.ERROR, logger="tracking.services"):
                response = open_page(client, token)
            waited = time.monotonic() - started
            cursor.execute("ROLLBACK")
    finally:
        locker.close()

    assert response.status_code == 200
    assert invoice.number in response.content.decode()
    # The write gave up after its one-second lock timeout instead of holding the page.
    assert waited < 5
    assert "could not record a view" in caplog.text
    assert not ViewRecord.objects.filter(invoice=invoice).exists()


def test_it_serves_the_page_and_counts_when_the_cache_is_down(
    client: Any, settings: Any, invoice: Invoice, token: str
) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
        }
    }
    settings.RATELIMIT_ENABLE = False

    response = open_page(client, token)

    assert response.status_code == 200
    # Fail open: without the cache repeats cannot be spotted, so the open counts.
    assert view_stats_for_invoice(invoice=invoice).view_count == 1


# Buffered (the default with Redis and PostgreSQL) -----------------------------------------


@postgresql_only
def test_it_keeps_a_buffered_open_when_the_flush_fails_and_writes_it_once_later(
    client: Any, invoice: Invoice, token: str, caplog: Any
) -> None:
    # A real database error in the flush (Celery runs it eagerly here, right after the push):
    # its table is gone until the savepoint is rolled back.
    broken = transaction.savepoint()
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE tracking_invoiceviewstats")

    with caplog.at_level(logging.WARNING, logger="tracking.services"):
        response = open_page(client, token)

    assert response.status_code == 200
    assert invoice.number in response.content.decode()
    assert "the buffer keeps the opens" in caplog.text
    assert buffer_length() == 1  # not lost: still in Redis, unacknowledged
    transaction.savepoint_rollback(broken)  # the table is back

    assert views_flush(consumer="after-repair", reclaim_after=0) == 1
    assert buffer_length() == 0
    assert view_stats_for_invoice(invoice=invoice).view_count == 1
    assert ViewRecord.objects.filter(invoice=invoice).count() == 1


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_it_serves_the_page_at_once_when_the_tracking_tables_are_locked(
    client: Any, tenant: Company, without_worker: None
) -> None:
    invoice = factories.make_invoice(tenant)
    token = factories.share_token(invoice)
    locker = connections.create_connection("default")
    try:
        with locker.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute("LOCK TABLE tracking_invoiceviewstats IN ACCESS EXCLUSIVE MODE")
            started = time.monotonic()
            response = open_page(client, token)
            waited = time.monotonic() - started
            cursor.execute("ROLLBACK")
    finally:
        locker.close()

    assert response.status_code == 200
    # The page never touched the tables: it buffered the open. (The one-second bound is the
    # whole page on a busy machine; the direct write alone waits out a lock timeout.)
    assert waited < 1
    assert buffer_length() == 1
    assert views_flush(consumer="after-the-lock") == 1
    assert view_stats_for_invoice(invoice=invoice).view_count == 1
