"""The Redis buffer: what a request does (one round trip, no SQL, the same rules as the direct
write) and what a flush does (set-based writes, exact counts, nothing written or announced
twice). Real Redis and PostgreSQL; the flush is called in process here, by real workers in
tests/chaos/test_tracking_flush.py."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from django.db import connection
from django.test import RequestFactory

from invoices.models import Company, Invoice
from invoices.webhooks.models import WebhookEndpoint, WebhookEvent
from invoices.webhooks.services import EventData, subscribed_types, subscriptions_changed
from tests import factories
from tracking import buffer
from tracking.models import InvoiceViewer, ViewRecord
from tracking.selectors import view_stats_for_invoice
from tracking.services import (
    RECORD_LIMIT,
    _batch_write,
    _record_from_entry,
    _record_write_now,
    view_record_for_request,
    views_flush,
)

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.skipif(
        connection.vendor != "postgresql" or not buffer.buffer_available(),
        reason="the buffer needs Redis (REDIS_URL) and PostgreSQL (DATABASE_URL)",
    ),
    pytest.mark.django_db,
]

BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


def _request(ip: str, **meta: Any) -> Any:
    meta.setdefault("HTTP_USER_AGENT", BROWSER)
    request = RequestFactory().get("/invoice/x", REMOTE_ADDR=ip, **meta)
    request.COOKIES = {}
    return request


def _open(invoice: Invoice, ip: str, **meta: Any) -> Any:
    return view_record_for_request(invoice=invoice, request=_request(ip, **meta))


@pytest.fixture
def invoice(tenant: Company) -> Invoice:
    return factories.make_invoice(tenant)


def test_it_buffers_an_open_without_a_query(
    invoice: Invoice, without_worker: None, django_assert_num_queries: Any
) -> None:
    # The request classifies the open and appends it to Redis: no SQL at all.
    with django_assert_num_queries(0):
        record = _open(invoice, "203.0.113.1")
    assert record is not None and record.pk is None and record.counted
    assert buffer.buffer_length() == 1
    assert not ViewRecord.objects.exists()

    assert views_flush(consumer="test") == 1
    stored = ViewRecord.objects.get(invoice=invoice)
    assert (stored.ip, stored.user_agent, stored.counted, stored.visit_key) == (
        "203.0.113.1",
        BROWSER,
        True,
        record.visit_key,
    )
    assert buffer.buffer_length() == 0


def test_it_writes_a_batch_with_a_constant_number_of_queries(
    tenant: Company, without_worker: None, django_assert_num_queries: Any
) -> None:
    invoices = [factories.make_invoice(tenant) for _ in range(3)]
    subscribed_types(company_id=tenant.pk)  # cached after the company's first event
    _open(invoices[0], "198.51.100.1")
    # 1 SAVEPOINT (the test runs in a transaction; a worker's flush opens its own), 2 the one
    # statement (records, distinct IPs, statistics), 3 the viewed invoices' public ids and
    # companies, 4 those companies, 5 RELEASE SAVEPOINT. No endpoint wants views: the
    # invoices are not loaded whole for their events' data.
    with django_assert_num_queries(5):
        assert views_flush(consumer="one") == 1
    for n in range(30):
        _open(invoices[n % 3], f"198.51.100.{n + 10}")
    # Thirty opens of three invoices: the same five queries.
    with django_assert_num_queries(5):
        assert views_flush(consumer="thirty") == 30
    stats = [view_stats_for_invoice(invoice=invoice) for invoice in invoices]
    assert [(s.view_count, s.unique_ips) for s in stats] == [(11, 11), (10, 10), (10, 10)]


def test_only_companies_that_want_views_get_their_events_with_the_invoice_whole(
    tenant: Company, without_worker: None
) -> None:
    WebhookEndpoint.objects.create(
        company=tenant, url="https://example.com/hooks", events=["invoice.viewed"]
    )
    subscriptions_changed(company_id=tenant.pk)
    watched = factories.make_invoice(tenant)
    unwatched = factories.make_invoice(factories.make_company(slug="no-endpoints-co"))
    _open(watched, "203.0.113.40")
    _open(unwatched, "203.0.113.41")

    assert views_flush(consumer="one") == 2
    event = WebhookEvent.objects.get(type="invoice.viewed")
    assert event.company_id == tenant.pk
    data = json.loads(event.payload)["data"]
    assert (data["id"], data["number"], data["customer"], data["source"]) == (
        watched.public_id,
        watched.number,
        watched.customer.public_id,
        "link",
    )
    assert data["amount_due"] == watched.amount_due and data["viewed_at"]


def test_event_data_is_built_once_and_only_when_read() -> None:
    built: list[int] = []

    def build() -> dict[str, Any]:
        built.append(1)
        return {"id": "inv_1"}

    data = EventData(build)
    assert built == []
    assert data["id"] == "inv_1" and dict(data) == {"id": "inv_1"} and len(data) == 1
    assert built == [1]


def test_it_applies_the_refresh_storm_rules_in_the_buffer(invoice: Invoice) -> None:
    # Celery is eager here: each open is flushed right after it is buffered.
    results = [_open(invoice, "203.0.113.9") for _ in range(RECORD_LIMIT + 5)]
    _open(invoice, "203.0.113.9", HTTP_USER_AGENT="Twitterbot/1.0")
    _open(invoice, "203.0.113.10", REQUEST_METHOD="HEAD")

    assert results[-1] is None  # past the record limit: dropped unwritten
    assert view_stats_for_invoice(invoice=invoice).view_count == 1
    records = ViewRecord.objects.filter(invoice=invoice)
    assert records.filter(counted=True).count() == 1
    assert records.filter(reason="rate_limited").count() == RECORD_LIMIT - 1
    # The scanner and the HEAD have windows of their own: recorded, not counted.
    assert set(records.filter(counted=False).values_list("reason", flat=True)) == {
        "rate_limited",
        "scanner",
        "head",
    }


def test_it_caps_counted_views_per_invoice_in_the_buffer(
    invoice: Invoice, monkeypatch: Any
) -> None:
    monkeypatch.setattr("tracking.services.INVOICE_COUNT_LIMIT", 3)
    for n in range(5):
        _open(invoice, f"203.0.113.{n + 1}")
    assert view_stats_for_invoice(invoice=invoice).view_count == 3
    assert ViewRecord.objects.filter(invoice=invoice, reason="rate_limited").count() == 2


def test_it_shares_the_windows_with_the_direct_write(invoice: Invoice, settings: Any) -> None:
    # The direct write (Redis reachable but buffering off) and the buffer count in the same
    # cache keys: switching between them does not count a repeat again.
    settings.TRACKING_BUFFERED = False
    _open(invoice, "203.0.113.20")
    settings.TRACKING_BUFFERED = True
    _open(invoice, "203.0.113.20")
    assert view_stats_for_invoice(invoice=invoice).view_count == 1
    assert ViewRecord.objects.filter(invoice=invoice, reason="rate_limited").count() == 1


def test_it_writes_and_counts_nothing_twice_when_a_flush_runs_again(
    tenant: Company, invoice: Invoice, without_worker: None
) -> None:
    WebhookEndpoint.objects.create(
        company=tenant, url="https://example.com/hooks", events=["invoice.viewed"]
    )
    subscriptions_changed(company_id=tenant.pk)
    for ip in ("203.0.113.1", "203.0.113.2"):
        _open(invoice, ip)
    _open(invoice, "203.0.113.3", HTTP_USER_AGENT="curl/8.5.0")
    # A flusher reads the batch and commits it, then dies before acknowledging it.
    entries = buffer.buffer_claim(consumer="killed", count=100, reclaim_after=60)
    records = [_record_from_entry(fields) for _, fields in entries]
    assert _batch_write([r for r in records if r is not None]) == 3
    assert buffer.buffer_length() == 3  # still there, still pending for the dead flusher

    # The next flusher takes the batch over (idle long enough) and finds it written.
    assert views_flush(consumer="next", reclaim_after=0) == 0
    assert buffer.buffer_length() == 0
    stats = view_stats_for_invoice(invoice=invoice)
    assert (stats.view_count, stats.unique_ips) == (2, 2)
    assert ViewRecord.objects.filter(invoice=invoice).count() == 3
    assert InvoiceViewer.objects.filter(invoice=invoice).count() == 2
    # invoice.viewed announced once per counted view, not again by the second flush.
    assert WebhookEvent.objects.filter(type="invoice.viewed").count() == 2


def test_it_skips_a_buffered_open_that_the_request_wrote_itself(
    invoice: Invoice, without_worker: None
) -> None:
    # Redis took the open but its answer was lost: the request wrote it directly, under the
    # same visit key. The flush then writes nothing more.
    record = _open(invoice, "203.0.113.4")
    assert record is not None
    record.invoice = invoice
    assert _record_write_now(record) is not None
    assert views_flush(consumer="test") == 0
    assert ViewRecord.objects.filter(invoice=invoice).count() == 1
    assert view_stats_for_invoice(invoice=invoice).view_count == 1


def test_it_drops_opens_of_an_invoice_deleted_before_the_flush(
    tenant: Company, without_worker: None
) -> None:
    gone = factories.make_invoice(tenant)
    kept = factories.make_invoice(tenant)
    _open(gone, "203.0.113.5")
    _open(kept, "203.0.113.5")
    gone.delete()
    # Not a poison batch: the kept invoice's open is written, the other one acknowledged.
    assert views_flush(consumer="test") == 1
    assert buffer.buffer_length() == 0
    assert ViewRecord.objects.get().invoice_id == kept.pk


def test_it_writes_directly_when_redis_is_down(
    invoice: Invoice, settings: Any, caplog: Any
) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
        }
    }
    with caplog.at_level(logging.WARNING, logger="tracking.services"):
        record = _open(invoice, "203.0.113.6")
    assert "buffer unavailable, writing the open directly" in caplog.text
    assert record is not None and record.pk is not None
    # Fail open: without Redis no repeat can be spotted, so the open counts.
    assert view_stats_for_invoice(invoice=invoice).view_count == 1


def test_an_open_postgresql_refuses_is_dropped_alone_and_the_rest_written(
    tenant: Company, without_worker: None, caplog: Any
) -> None:
    import json
    import uuid

    from django.utils import timezone

    invoices = [factories.make_invoice(tenant) for _ in range(3)]
    _open(invoices[0], "203.0.113.7")
    # An entry whose address PostgreSQL cannot store (the buffer only ever holds what a request
    # put there, but a flush must not stop behind one bad entry whatever it holds).
    refused = uuid.uuid4()
    buffer._redis().xadd(
        buffer.stream_key(),
        {
            "visit": json.dumps(
                {
                    "key": str(refused),
                    "invoice": invoices[1].pk,
                    "at": timezone.now().isoformat(),
                    "source": "link",
                    "ip": "not-an-address",
                    "ua": BROWSER,
                }
            ),
            "reason": "",
        },
    )
    _open(invoices[1], "203.0.113.8")
    _open(invoices[2], "203.0.113.9")

    with caplog.at_level(logging.ERROR, logger="tracking.services"):
        assert views_flush(consumer="test") == 3
    assert buffer.buffer_length() == 0  # acknowledged, the refused one too
    assert sorted(ViewRecord.objects.values_list("ip", flat=True)) == [
        "203.0.113.7",
        "203.0.113.8",
        "203.0.113.9",
    ]
    assert not ViewRecord.objects.filter(visit_key=refused).exists()
    assert [view_stats_for_invoice(invoice=i).view_count for i in invoices] == [1, 1, 1]
    assert str(refused) in caplog.text and "refuses" in caplog.text
