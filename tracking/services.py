"""Recording opens of shared invoices, with honest counts.

Every open that reaches the invoice page is written as a ``ViewRecord``; only opens that look
like a person reading the invoice count towards ``InvoiceViewStats``:

- ``HEAD`` requests, browser prefetches (``Sec-Purpose: prefetch`` and friends), link-preview
  bots and mail scanners, and the company's own signed-in staff are recorded with a reason and
  not counted.
- Refresh storms: one counted view per IP per invoice per ``REPEAT_WINDOW`` (30 minutes, a fixed
  window from that IP's first open, kept in the cache). Repeats inside the window are recorded as
  ``rate_limited``; past ``RECORD_LIMIT`` rows per IP, invoice and window nothing more is written,
  so a script hammering a link cannot fill the table either. Across all IPs, an invoice counts at
  most ``INVOICE_COUNT_LIMIT`` views per window (many addresses padding one token).
- When the cache is down the rules cannot be applied: the open is recorded and counted (fail
  open, like the rate limits in settings) and the outage is logged.

How an open reaches the database:

- Buffered (production: Redis and PostgreSQL): the request only classifies the open and hands
  it to ``tracking.buffer`` in one Redis round trip (the refresh-storm counters and the append
  in one Lua script), and queues a flush when the buffer was empty. No SQL in the request.
  ``views_flush`` (the Celery task ``views_flush_task``, also run every few seconds by beat)
  writes batches with one set-based statement: the records, the distinct-IP rows, and each
  invoice's statistics incremented by the batch's counts; the ``invoice.viewed`` events of the
  views it wrote go out in the same transaction. Batches are acknowledged in Redis only after
  the commit, and each open's ``visit_key`` is unique in the table, so a failed flush is tried
  again and a flush run twice (a worker killed between its commit and its acknowledgement)
  writes and counts nothing twice. The flush commits synchronously: once Redis forgets an
  open, PostgreSQL has it.
- Direct (Redis down at request time, no Redis or SQLite configured, ``TRACKING_BUFFERED`` off,
  and ``view_record``): the same statement with one open, in the request, with bounded lock
  waits and a commit that does not wait for the WAL flush (``_OWN_TRANSACTION_SETTINGS``). When
  Redis failed mid-push the open keeps its ``visit_key``: if the push did land after all, the
  flush finds the row written and skips it.

Statistics move by ``INSERT … ON CONFLICT DO UPDATE`` adding to the stored values, which
concurrent writers cannot lose. Any failure is logged and swallowed by
``view_record_for_request``: the page is served.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DataError, IntegrityError, connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.http import HttpRequest
from django.utils import timezone

from core.http import client_ip
from invoices.events import invoice_data
from invoices.models import Company, Invoice
from invoices.tenancy import is_staff_of
from invoices.webhooks.services import (
    EventData,
    event_emit,
    subscribed_types,
    subscriptions_read_once,
)
from tracking import buffer
from tracking.models import (
    USER_AGENT_MAX_LENGTH,
    InvoiceViewer,
    InvoiceViewStats,
    NotCountedReason,
    ViewRecord,
    ViewSource,
)

logger = logging.getLogger(__name__)

# Seconds. One counted view per IP per invoice in this window (fixed, from the first open).
REPEAT_WINDOW = 30 * 60
# Rows written per IP, invoice and window, counted or not; further opens are not written.
RECORD_LIMIT = 20
# Counted views of one invoice per window, across every IP.
INVOICE_COUNT_LIMIT = 500
# Buffered opens written per statement, and statements per flush run (then the run hands over
# to a new one, so other tasks get the worker in between).
FLUSH_BATCH = 500
FLUSH_BATCHES_PER_RUN = 20

# Link previews (chat apps, social networks), search crawlers, mail-security scanners that open
# every link in a message, Office's own link fetchers, headless browsers and HTTP libraries.
# A person's browser never names any of these. (Not bare "Snapchat": that also names the in-app
# browser a person reads the link in; Snap's preview fetcher is "Snap URL Preview Service".)
SCANNER_AGENTS = re.compile(
    r"slackbot|slack-imgproxy|facebookexternalhit|facebot|facebookcatalog|twitterbot"
    r"|linkedinbot|discordbot|whatsapp|telegrambot|skypeuripreview|microsoftpreview|teams/"
    r"|googlebot|google-pagerenderer|googleimageproxy|bingbot|bingpreview|applebot|duckduckbot"
    r"|yandex|baiduspider|pinterestbot|redditbot|embedly|iframely|viber|snap url preview|mastodon"
    r"|microsoft office|ms-office|msoffice|outlook-ios|outlook-android|safelinks"
    r"|proofpoint|mimecast|barracuda|symantec|messagelabs|trend ?micro|fireeye|forcepoint"
    r"|ironport|sophos|zscaler|cloudmark|avanan|checkpoint"
    r"|headlesschrome|phantomjs|python-requests|python-urllib|aiohttp|httpx|curl/|wget/"
    r"|go-http-client|okhttp|java/|libwww|apache-httpclient"
    r"|crawler|spider|\+https?://",
    re.IGNORECASE,
)
# Control characters (NUL above all, which PostgreSQL text cannot hold) never belong in a UA.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
# Headers browsers send on speculative loads (Chrome, Safari, Firefox); none on a real open.
PREFETCH_HEADERS = ("HTTP_SEC_PURPOSE", "HTTP_PURPOSE", "HTTP_X_PURPOSE", "HTTP_X_MOZ")


@dataclass(frozen=True)
class Visit:
    """What tracking needs to know about one request for an invoice page."""

    ip: str | None
    user_agent: str = ""
    method: str = "GET"
    prefetch: bool = False
    # Signed in as a member of the invoice's company (or a superuser).
    staff: bool = False


def _is_prefetch(meta: Mapping[str, Any]) -> bool:
    return any(
        word in str(meta.get(header, "")).lower()
        for header in PREFETCH_HEADERS
        for word in ("prefetch", "prerender", "preview")
    )


def _is_company_staff(request: HttpRequest, invoice: Invoice) -> bool:
    # Without a session cookie nobody is signed in: skip the session and user queries.
    if settings.SESSION_COOKIE_NAME not in request.COOKIES:
        return False
    user = request.user
    if not user.is_authenticated:
        return False
    return bool(getattr(user, "is_superuser", False)) or is_staff_of(user, invoice.company_id)


def visit_from_request(request: HttpRequest, *, invoice: Invoice) -> Visit:
    meta = request.META
    return Visit(
        ip=client_ip(meta, settings.TRUSTED_PROXY_COUNT),
        user_agent=str(meta.get("HTTP_USER_AGENT", "")),
        method=(request.method or "GET").upper(),
        prefetch=_is_prefetch(meta),
        staff=_is_company_staff(request, invoice),
    )


def visit_classify(visit: Visit) -> str:
    """Why this visit is not a view, or "" when it is one (before the refresh-storm rule)."""
    if visit.method == "HEAD":
        return NotCountedReason.HEAD
    if visit.prefetch:
        return NotCountedReason.PREFETCH
    if visit.staff:
        return NotCountedReason.STAFF
    # Every browser sends a User-Agent; an empty one is a script.
    if not visit.user_agent.strip() or SCANNER_AGENTS.search(visit.user_agent):
        return NotCountedReason.SCANNER
    return ""


def _hit(key: str, *, usually_new: bool) -> int:
    """Counts one hit in a fixed window that starts with the first; returns the count so far.
    ``add`` and ``incr`` are atomic in Redis, so parallel hits get distinct counts. The order
    of the two saves a round trip in the usual case (a new viewer; a busy invoice counter)."""
    if usually_new and cache.add(key, 1, timeout=REPEAT_WINDOW):
        return 1
    try:
        return int(cache.incr(key))
    except ValueError:  # no window yet, or it ended just now: this hit opens one
        if cache.add(key, 1, timeout=REPEAT_WINDOW):
            return 1
        return int(cache.incr(key))


def _storm_check(*, invoice: Invoice, visit: Visit, reason: str) -> tuple[bool, str]:
    """Applies the refresh-storm rules: (write the record?, reason it is not counted)."""
    who = f"tracking:{invoice.pk}:{visit.ip or 'unknown'}"
    if reason:
        return _hit(f"{who}:other", usually_new=True) <= RECORD_LIMIT, reason
    opens = _hit(f"{who}:open", usually_new=True)
    if opens > RECORD_LIMIT:
        return False, NotCountedReason.RATE_LIMITED
    if opens > 1 or _hit(f"tracking:{invoice.pk}:all", usually_new=False) > INVOICE_COUNT_LIMIT:
        return True, NotCountedReason.RATE_LIMITED
    return True, ""


def _record_build(
    *, invoice: Invoice, visit: Visit, source: str, now: dt.datetime, reason: str
) -> ViewRecord:
    return ViewRecord(
        invoice=invoice,
        company_id=invoice.company_id,
        viewed_at=now,
        source=source if source in ViewSource.values else ViewSource.LINK,
        ip=visit.ip,
        user_agent=_CONTROL_CHARACTERS.sub("", visit.user_agent)[:USER_AGENT_MAX_LENGTH],
        counted=not reason,
        reason=reason,
        visit_key=uuid.uuid4(),
    )


def view_record(
    *,
    invoice: Invoice,
    visit: Visit,
    source: str = ViewSource.LINK,
    now: dt.datetime | None = None,
) -> ViewRecord | None:
    """Records one open of ``invoice`` now, in the caller's thread (the direct path); counts it
    when it is a view. Returns the record, or None when the refresh-storm rule dropped it
    unwritten."""
    reason = visit_classify(visit)
    try:
        write, reason = _storm_check(invoice=invoice, visit=visit, reason=reason)
    except Exception:
        # Cache (Redis) down: no way to spot repeats. Record and count rather than lose views.
        logger.warning("tracking: cache unavailable, refresh-storm rule skipped", exc_info=True)
        write = True
    if not write:
        return None
    record = _record_build(
        invoice=invoice, visit=visit, source=source, now=now or timezone.now(), reason=reason
    )
    return _record_write_now(record)


def _record_write_now(record: ViewRecord) -> ViewRecord | None:
    """The direct write of one record, then its event. None when a flush wrote the same open
    (its ``visit_key``) first."""
    if connection.vendor != "postgresql":
        with transaction.atomic():
            _write_portable(record)
    else:
        if connection.in_atomic_block:
            # Inside the caller's transaction: a savepoint, so a failed tracking write rolls
            # back alone and leaves the request's transaction usable.
            with transaction.atomic():
                pk = _write_one_postgresql(record, settings_sql="")
        else:
            # Autocommit (how requests run): one round trip, its own transaction, bounded waits.
            pk = _write_one_postgresql(record, settings_sql=_OWN_TRANSACTION_SETTINGS)
        if pk is None:
            return None
        record.pk = pk
        record._state.adding = False
        record._state.db = connection.alias
    if record.counted:
        _view_announce(record, record.invoice)
    return record


def _view_announce(record: ViewRecord, invoice: Invoice) -> None:
    event_emit(
        company=invoice.company,
        type="invoice.viewed",
        object_id=invoice.public_id,
        data=_view_data(record, invoice),
    )


def _view_data(record: ViewRecord, invoice: Invoice) -> dict[str, Any]:
    return {
        **invoice_data(invoice),
        "viewed_at": record.viewed_at.isoformat(),
        "source": record.source,
    }


def view_buffer(
    *,
    invoice: Invoice,
    visit: Visit,
    source: str = ViewSource.LINK,
    now: dt.datetime | None = None,
) -> ViewRecord | None:
    """Classifies one open and appends it to the Redis buffer (one round trip), then queues a
    flush if the buffer was empty. Returns the record as the flush will write it (unsaved), or
    None when the refresh-storm rule dropped it. Raises when Redis cannot be reached: nothing
    was buffered then, or (a lost answer) the flush will skip what the caller writes instead."""
    reason = visit_classify(visit)
    record = _record_build(
        invoice=invoice, visit=visit, source=source, now=now or timezone.now(), reason=reason
    )
    appended, record.reason, length = buffer.buffer_push(
        counter_key=buffer.window_key(invoice.pk, visit.ip, counted=not reason),
        invoice_counter_key=buffer.invoice_window_key(invoice.pk),
        window=REPEAT_WINDOW,
        record_limit=RECORD_LIMIT,
        invoice_count_limit=INVOICE_COUNT_LIMIT,
        reason=reason,
        payload=_entry_of(record),
    )
    if not appended:
        return None
    record.counted = not record.reason
    if length == 1:
        _flush_queue()
    return record


# A flusher starts this long after the buffer stops being empty: under steady traffic each
# run then writes the views of that second in one batch, instead of a run (with its fixed cost
# in the worker) for every few views. The admin shows a view about a second later.
FLUSH_DELAY_SECONDS = 1.0


def _flush_queue() -> None:
    """The buffer went from empty to non-empty: a flusher drains it. Not ``on_commit``: the
    open is in Redis already, whatever the caller's transaction does."""
    from tracking.tasks import views_flush_task

    try:
        views_flush_task.apply_async(countdown=FLUSH_DELAY_SECONDS, ignore_result=True)
    except Exception:
        # Broker down (or, with eager Celery, the flush itself failed): the opens stay
        # buffered; the periodic flush writes them.
        logger.warning("tracking: flush not run now, the buffer keeps the opens", exc_info=True)


def view_record_for_request(
    *, invoice: Invoice, request: HttpRequest, source: str = ViewSource.LINK
) -> ViewRecord | None:
    """What the invoice page calls. Buffers the open when it can, else writes it directly.
    Never raises: a failure to record a view (database or cache error) is logged and the page
    is served anyway."""
    try:
        visit = visit_from_request(request, invoice=invoice)
        if not (buffer.buffer_available() and connection.vendor == "postgresql"):
            return view_record(invoice=invoice, visit=visit, source=source)
        now = timezone.now()
        try:
            return view_buffer(invoice=invoice, visit=visit, source=source, now=now)
        except Exception:
            # Redis down: the rule cannot run and nothing was buffered. Record and count
            # rather than lose the view (fail open), without asking the cache again.
            logger.warning("tracking: buffer unavailable, writing the open directly", exc_info=True)
            record = _record_build(
                invoice=invoice, visit=visit, source=source, now=now, reason=visit_classify(visit)
            )
            return _record_write_now(record)
    except Exception:
        logger.exception("tracking: could not record a view of invoice %s", invoice.pk)
        return None


# The buffer's entries -------------------------------------------------------------------


def _entry_of(record: ViewRecord) -> str:
    return json.dumps(
        {
            "key": str(record.visit_key),
            "invoice": record.invoice_id,
            "at": record.viewed_at.isoformat(),
            "source": record.source,
            "ip": record.ip,
            "ua": record.user_agent,
        },
        separators=(",", ":"),
    )


def _record_from_entry(fields: Mapping[str, str]) -> ViewRecord | None:
    """The record a buffered open describes; None for an entry that cannot be one (logged)."""
    try:
        data = json.loads(fields["visit"])
        reason = fields["reason"]
        return ViewRecord(
            visit_key=uuid.UUID(data["key"]),
            invoice_id=int(data["invoice"]),
            viewed_at=dt.datetime.fromisoformat(data["at"]),
            source=data["source"] if data["source"] in ViewSource.values else ViewSource.LINK,
            ip=data["ip"] or None,
            user_agent=_CONTROL_CHARACTERS.sub("", str(data["ua"]))[:USER_AGENT_MAX_LENGTH],
            counted=not reason,
            reason=reason if reason in ("", *NotCountedReason.values) else "rate_limited",
        )
    except (KeyError, TypeError, ValueError):
        logger.error("tracking: dropped a buffered entry that is not an open: %r", fields)
        return None


# Flushing -------------------------------------------------------------------------------


def views_flush(*, consumer: str, reclaim_after: float | None = None) -> int:
    """Writes buffered opens to PostgreSQL in batches until the buffer is empty (or this run's
    share is done: then a new run is queued). ``consumer`` names this flusher in the group:
    the same name on a retry reads its unacknowledged batch first. Returns the records written.
    Raises on a database or Redis failure, with the batch left pending for the retry."""
    if reclaim_after is None:
        reclaim_after = float(settings.TRACKING_FLUSH_RECLAIM_AFTER)
    written = 0
    for _ in range(FLUSH_BATCHES_PER_RUN):
        entries = buffer.buffer_claim(
            consumer=consumer, count=FLUSH_BATCH, reclaim_after=reclaim_after
        )
        if not entries:
            buffer.consumers_forget(consumer=consumer)
            return written
        records = [
            record
            for record in (_record_from_entry(fields) for _, fields in entries)
            if record is not None
        ]
        if records:
            written += _batch_write_isolating(records)
        buffer.buffer_ack([entry_id for entry_id, _ in entries])
    _flush_queue()
    return written


def _batch_write_isolating(records: list[ViewRecord]) -> int:
    """_batch_write, and when PostgreSQL refuses the batch for what is in it (a value it cannot
    store), the halves apart until the refused open stands alone: it is dropped (logged) and
    every other open is written, instead of the whole buffer waiting behind it forever. A
    failure of the database itself (connection, lock timeout, deadlock) still raises: the
    batch stays pending for the retry."""
    try:
        return _batch_write(records)
    except (DataError, IntegrityError):
        if len(records) == 1:
            logger.error(
                "tracking: dropped a buffered open PostgreSQL refuses: %r",
                {"visit_key": str(records[0].visit_key), "invoice": records[0].invoice_id},
                exc_info=True,
            )
            return 0
        middle = len(records) // 2
        return _batch_write_isolating(records[:middle]) + _batch_write_isolating(records[middle:])


def _batch_write(records: list[ViewRecord]) -> int:
    """One batch in one transaction: the statement, then the events of the views it wrote (their
    outbox rows commit with the records, so each is announced exactly once)."""
    # Bounded lock waits (a migration, a stuck session) so a flusher gives up and retries; a
    # synchronous commit, since the batch leaves Redis once this returns. Local to this
    # transaction, unless a caller's transaction holds this one (eager Celery in tests).
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        written = _write_batch_postgresql(
            records, settings_sql=_FLUSH_TRANSACTION_SETTINGS if outermost else ""
        )
        by_key = {record.visit_key: record for record in records}
        counted = [by_key[key] for _, key, is_counted in written if is_counted]
        if counted:
            _views_announce(counted)
    return len(written)


def _views_announce(records: list[ViewRecord]) -> None:
    """The ``invoice.viewed`` events of a batch's counted views. An event's data describes the
    invoice whole (with its customer), which only the endpoints subscribed to views read: the
    invoices are loaded whole for those companies only (one query), the others' events carry
    data built if a listener reads it. Two queries besides: the invoices' ids, the companies."""
    heads = {
        pk: (public_id, company_id)
        for pk, public_id, company_id in Invoice.objects.filter(
            pk__in={record.invoice_id for record in records}
        ).values_list("pk", "public_id", "company_id")
    }
    companies = Company.objects.in_bulk({company_id for _, company_id in heads.values()})
    with subscriptions_read_once():
        subscribed = {
            company_id
            for company_id in companies
            if "invoice.viewed" in subscribed_types(company_id=company_id)
        }
        whole = (
            Invoice.objects.select_related("company", "customer").in_bulk(
                [pk for pk, (_, company_id) in heads.items() if company_id in subscribed]
            )
            if subscribed
            else {}
        )
        for record in records:
            if record.invoice_id not in heads:  # deleted since it was viewed
                continue
            public_id, company_id = heads[record.invoice_id]
            data: Mapping[str, Any]
            if company_id in subscribed:
                invoice = whole.get(record.invoice_id)
                if invoice is None:  # deleted in between
                    continue
                data = _view_data(record, invoice)
            else:
                data = EventData(_view_data_reader(record, public_id))
            event_emit(
                company=companies[company_id],
                type="invoice.viewed",
                object_id=public_id,
                data=data,
            )


def _view_data_reader(record: ViewRecord, public_id: str) -> Callable[[], dict[str, Any]]:
    def read() -> dict[str, Any]:
        invoice = (
            Invoice.objects.select_related("company", "customer")
            .filter(pk=record.invoice_id)
            .first()
        )
        if invoice is None:  # deleted since: what is still known
            return {"object": "invoice", "id": public_id, "viewed_at": record.viewed_at.isoformat()}
        return _view_data(record, invoice)

    return read


# Writing --------------------------------------------------------------------------------

# One statement for a batch of opens: the records (a visit_key already written is skipped: ON
# CONFLICT DO NOTHING, and only what RETURNING gives counts), the distinct-IP rows (ON CONFLICT
# DO NOTHING tells which IPs are new), and the statistics incremented by the batch's counts per
# invoice (first_viewed_at the earliest seen, last the latest; the UPDATE adds to the stored
# values under the row lock, so parallel flushes and direct writes do not lose updates). Rows
# lock in a fixed order (visit_key, invoice, ip) so two writers cannot deadlock. Opens of an
# invoice deleted since they were buffered are dropped (the join), and the tenant comes from
# the invoice row, not from the buffer.
_POSTGRESQL_WRITE_BATCH = """
WITH batch AS (
    SELECT b.visit_key, b.invoice_id, i.company_id, b.viewed_at, b.source, b.ip, b.user_agent,
           b.counted, b.reason
    FROM unnest(%(keys)s::uuid[], %(invoices)s::bigint[], %(times)s::timestamptz[],
                %(sources)s::text[], %(ips)s::inet[], %(agents)s::text[], %(counted)s::boolean[],
                %(reasons)s::text[])
         AS b(visit_key, invoice_id, viewed_at, source, ip, user_agent, counted, reason)
    JOIN invoices_invoice i ON i.id = b.invoice_id
), record AS (
    INSERT INTO tracking_viewrecord
        (visit_key, invoice_id, company_id, viewed_at, source, ip, user_agent, counted, reason)
    SELECT visit_key, invoice_id, company_id, viewed_at, source, ip, user_agent, counted, reason
    FROM batch ORDER BY visit_key
    ON CONFLICT (visit_key) DO NOTHING
    RETURNING id, visit_key, invoice_id, company_id, viewed_at, ip, counted
), new_viewer AS (
    INSERT INTO tracking_invoiceviewer (invoice_id, ip, first_seen_at)
    SELECT invoice_id, ip, min(viewed_at) FROM record
    WHERE counted AND ip IS NOT NULL
    GROUP BY invoice_id, ip ORDER BY invoice_id, ip
    ON CONFLICT (invoice_id, ip) DO NOTHING
    RETURNING invoice_id
), stats AS (
    INSERT INTO tracking_invoiceviewstats
        (invoice_id, company_id, view_count, unique_ips, first_viewed_at, last_viewed_at)
    SELECT r.invoice_id, r.company_id, count(*),
           (SELECT count(*) FROM new_viewer n WHERE n.invoice_id = r.invoice_id),
           min(r.viewed_at), max(r.viewed_at)
    FROM record r WHERE r.counted
    GROUP BY r.invoice_id, r.company_id ORDER BY r.invoice_id
    ON CONFLICT (invoice_id) DO UPDATE SET
        view_count = tracking_invoiceviewstats.view_count + EXCLUDED.view_count,
        unique_ips = tracking_invoiceviewstats.unique_ips + EXCLUDED.unique_ips,
        first_viewed_at = LEAST(tracking_invoiceviewstats.first_viewed_at,
                                EXCLUDED.first_viewed_at),
        last_viewed_at = GREATEST(tracking_invoiceviewstats.last_viewed_at,
                                  EXCLUDED.last_viewed_at)
)
SELECT id, visit_key, counted FROM record
"""
# The same for one open, with plain parameters: the direct write in a request (planning the
# batch statement costs about a millisecond more, which only a batch pays back).
_POSTGRESQL_WRITE_ONE = """
WITH record AS (
    INSERT INTO tracking_viewrecord
        (visit_key, invoice_id, company_id, viewed_at, source, ip, user_agent, counted, reason)
    VALUES (%(key)s::uuid, %(invoice)s, %(company)s, %(now)s, %(source)s, %(ip)s::inet,
            %(user_agent)s, %(counted)s, %(reason)s)
    ON CONFLICT (visit_key) DO NOTHING
    RETURNING id
), new_viewer AS (
    INSERT INTO tracking_invoiceviewer (invoice_id, ip, first_seen_at)
    SELECT %(invoice)s, %(ip)s::inet, %(now)s
    WHERE %(counted)s AND %(ip)s::inet IS NOT NULL AND EXISTS (SELECT 1 FROM record)
    ON CONFLICT (invoice_id, ip) DO NOTHING
    RETURNING 1
), stats AS (
    INSERT INTO tracking_invoiceviewstats
        (invoice_id, company_id, view_count, unique_ips, first_viewed_at, last_viewed_at)
    SELECT %(invoice)s, %(company)s, 1, (SELECT count(*) FROM new_viewer), %(now)s, %(now)s
    WHERE %(counted)s AND EXISTS (SELECT 1 FROM record)
    ON CONFLICT (invoice_id) DO UPDATE SET
        view_count = tracking_invoiceviewstats.view_count + 1,
        unique_ips = tracking_invoiceviewstats.unique_ips + EXCLUDED.unique_ips,
        first_viewed_at = LEAST(tracking_invoiceviewstats.first_viewed_at,
                                EXCLUDED.first_viewed_at),
        last_viewed_at = GREATEST(tracking_invoiceviewstats.last_viewed_at,
                                  EXCLUDED.last_viewed_at)
)
SELECT id FROM record
"""
# Autocommit: several statements in one query string (possible with client-side binding,
# Django's default for psycopg 3) run as one implicit transaction, so these
# settings last for this write only. A lock held on the tracking tables (a migration, a stuck
# transaction) fails the write after a second instead of holding the page. The commit does not
# wait for the WAL flush (3-4 ms of fsync on our machines, against 0.15 ms for the statement):
# views are telemetry, and a database crash may lose the last fraction of a second of them,
# never consistency.
_OWN_TRANSACTION_SETTINGS = (
    "SET LOCAL lock_timeout = '1s'; SET LOCAL statement_timeout = '2s'; "
    "SET LOCAL synchronous_commit = off; "
)
# A flush waits longer (no page waits on it) and commits synchronously (see _batch_write).
_FLUSH_TRANSACTION_SETTINGS = (
    "SET LOCAL lock_timeout = '15s'; SET LOCAL statement_timeout = '60s'; "
)


def _write_batch_postgresql(
    records: list[ViewRecord], *, settings_sql: str
) -> list[tuple[int, uuid.UUID, bool]]:
    """Runs the batch write; (id, visit_key, counted) of each record it inserted."""
    with connection.cursor() as cursor:
        cursor.execute(
            settings_sql + _POSTGRESQL_WRITE_BATCH,
            {
                "keys": [str(record.visit_key) for record in records],
                "invoices": [record.invoice_id for record in records],
                "times": [record.viewed_at for record in records],
                "sources": [record.source for record in records],
                "ips": [record.ip for record in records],
                "agents": [record.user_agent for record in records],
                "counted": [record.counted for record in records],
                "reasons": [record.reason for record in records],
            },
        )
        rows = _rows_after_settings(cursor)
    return [
        (int(pk), key if isinstance(key, uuid.UUID) else uuid.UUID(str(key)), bool(counted))
        for pk, key, counted in rows
    ]


def _write_one_postgresql(record: ViewRecord, *, settings_sql: str) -> int | None:
    """Runs the write of one open; the record's id, or None if its visit_key was written."""
    with connection.cursor() as cursor:
        cursor.execute(
            settings_sql + _POSTGRESQL_WRITE_ONE,
            {
                "key": str(record.visit_key),
                "invoice": record.invoice_id,
                "company": record.company_id,
                "now": record.viewed_at,
                "source": record.source,
                "ip": record.ip,
                "user_agent": record.user_agent,
                "counted": record.counted,
                "reason": record.reason,
            },
        )
        rows = _rows_after_settings(cursor)
    return int(rows[0][0]) if rows else None


def _rows_after_settings(cursor: Any) -> list[Any]:
    # Past the SET statements' empty results to the write's.
    while cursor.description is None and cursor.cursor.nextset():
        pass
    return list(cursor.fetchall())


def _write_portable(record: ViewRecord) -> None:
    """The same writes through the ORM, for the embedded SQLite database of ``make run``
    (which runs one writer at a time, so the separate statements cannot interleave)."""
    record.save(force_insert=True)
    if not record.counted:
        return
    new_ip = False
    if record.ip:
        _, new_ip = InvoiceViewer.objects.get_or_create(
            invoice_id=record.invoice_id, ip=record.ip, defaults={"first_seen_at": record.viewed_at}
        )
    updated = InvoiceViewStats.objects.filter(invoice_id=record.invoice_id).update(
        view_count=F("view_count") + 1,
        unique_ips=F("unique_ips") + int(new_ip),
        last_viewed_at=Greatest(F("last_viewed_at"), Value(record.viewed_at)),
    )
    if not updated:
        InvoiceViewStats.objects.create(
            invoice_id=record.invoice_id,
            company_id=record.company_id,
            view_count=1,
            unique_ips=int(new_ip),
            first_viewed_at=record.viewed_at,
            last_viewed_at=record.viewed_at,
        )
