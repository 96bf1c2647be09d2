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

The write is one SQL statement on PostgreSQL (record, distinct-IP row and statistics together),
so the page pays one round trip, with bounded lock waits and a commit that does not wait for the
WAL flush (``_OWN_TRANSACTION_SETTINGS``). Statistics move by ``INSERT … ON CONFLICT DO UPDATE``
with ``view_count + 1``, which concurrent opens cannot lose. Any failure is logged and swallowed
by ``view_record_for_request``: the page is served.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.http import HttpRequest
from django.utils import timezone

from core.http import client_ip
from invoices.events import invoice_data
from invoices.models import Invoice
from invoices.tenancy import is_staff_of
from invoices.webhooks.services import event_emit
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


def view_record(
    *,
    invoice: Invoice,
    visit: Visit,
    source: str = ViewSource.LINK,
    now: dt.datetime | None = None,
) -> ViewRecord | None:
    """Records one open of ``invoice``; counts it when it is a view. Returns the record, or
    None when the refresh-storm rule dropped it unwritten."""
    now = now or timezone.now()
    if source not in ViewSource.values:
        source = ViewSource.LINK
    reason = visit_classify(visit)
    try:
        write, reason = _storm_check(invoice=invoice, visit=visit, reason=reason)
    except Exception:
        # Cache (Redis) down: no way to spot repeats. Record and count rather than lose views.
        logger.warning("tracking: cache unavailable, refresh-storm rule skipped", exc_info=True)
        write = True
    if not write:
        return None
    record = ViewRecord(
        invoice=invoice,
        company_id=invoice.company_id,
        viewed_at=now,
        source=source,
        ip=visit.ip,
        user_agent=_CONTROL_CHARACTERS.sub("", visit.user_agent)[:USER_AGENT_MAX_LENGTH],
        counted=not reason,
        reason=reason,
    )
    if connection.vendor != "postgresql":
        with transaction.atomic():
            _write_portable(record)
    elif connection.in_atomic_block:
        # Inside the caller's transaction: a savepoint, so a failed tracking write rolls back
        # alone and leaves the request's transaction usable.
        with transaction.atomic():
            _write_postgresql(record, own_transaction=False)
    else:
        # Autocommit (how requests run): one round trip, its own transaction, bounded waits.
        _write_postgresql(record, own_transaction=True)
    if record.counted:
        event_emit(
            company=invoice.company,
            type="invoice.viewed",
            object_id=invoice.public_id,
            data={
                **invoice_data(invoice),
                "viewed_at": record.viewed_at.isoformat(),
                "source": record.source,
            },
        )
    return record


def view_record_for_request(
    *, invoice: Invoice, request: HttpRequest, source: str = ViewSource.LINK
) -> ViewRecord | None:
    """What the invoice page calls. Never raises: a failure to record a view (database or cache
    error) is logged and the page is served anyway."""
    try:
        visit = visit_from_request(request, invoice=invoice)
        return view_record(invoice=invoice, visit=visit, source=source)
    except Exception:
        logger.exception("tracking: could not record a view of invoice %s", invoice.pk)
        return None


# One statement: the record, the distinct-IP row (ON CONFLICT DO NOTHING tells whether the IP
# is new) and the statistics (first_viewed_at only in the INSERT, so it is set once; the UPDATE
# adds to the stored values under the row lock, so parallel opens do not lose updates).
_POSTGRESQL_WRITE = """
WITH record AS (
    INSERT INTO tracking_viewrecord
        (invoice_id, company_id, viewed_at, source, ip, user_agent, counted, reason)
    VALUES (%(invoice)s, %(company)s, %(now)s, %(source)s, %(ip)s::inet, %(user_agent)s,
            %(counted)s, %(reason)s)
    RETURNING id
), new_viewer AS (
    INSERT INTO tracking_invoiceviewer (invoice_id, ip, first_seen_at)
    SELECT %(invoice)s, %(ip)s::inet, %(now)s
    WHERE %(counted)s AND %(ip)s::inet IS NOT NULL
    ON CONFLICT (invoice_id, ip) DO NOTHING
    RETURNING 1
), stats AS (
    INSERT INTO tracking_invoiceviewstats
        (invoice_id, company_id, view_count, unique_ips, first_viewed_at, last_viewed_at)
    SELECT %(invoice)s, %(company)s, 1, (SELECT count(*) FROM new_viewer), %(now)s, %(now)s
    WHERE %(counted)s
    ON CONFLICT (invoice_id) DO UPDATE SET
        view_count = tracking_invoiceviewstats.view_count + 1,
        unique_ips = tracking_invoiceviewstats.unique_ips + EXCLUDED.unique_ips,
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


def _write_postgresql(record: ViewRecord, *, own_transaction: bool) -> None:
    settings_sql = _OWN_TRANSACTION_SETTINGS if own_transaction else ""
    with connection.cursor() as cursor:
        cursor.execute(
            settings_sql + _POSTGRESQL_WRITE,
            {
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
        # Past the SET statements' empty results to the write's.
        while cursor.description is None and cursor.cursor.nextset():
            pass
        row = cursor.fetchone()
    assert row is not None
    record.pk = row[0]
    record._state.adding = False
    record._state.db = connection.alias


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
