"""View tracking in the invoice admin: a badge column for the list and the view log for the
change page. ``InvoiceAdmin`` (invoices/admin.py) references these; the list gets the statistics
through ``list_select_related = [..., "view_stats"]``, so the badge costs no query per row."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from django.contrib import admin
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Model
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from invoices.admin_scoping import TenantScopedAdmin
from invoices.models import Invoice
from tracking import selectors
from tracking.models import InvoiceViewStats, ViewRecord

# The "viewed recently" marker: opened within this long before the page was rendered.
VIEWED_RECENTLY = dt.timedelta(hours=24)
VIEW_LOG_LENGTH = 100
ADMIN_CSS = "tracking/admin.css"


def _company_time(invoice: Invoice, value: dt.datetime) -> str:
    """A timestamp in the company's time zone, which is what its staff think in."""
    try:
        zone: dt.tzinfo = zoneinfo.ZoneInfo(invoice.company.time_zone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = dt.UTC
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def _stats(invoice: Invoice) -> InvoiceViewStats | None:
    try:
        return invoice.view_stats  # type: ignore[no-any-return]
    except ObjectDoesNotExist:
        return None


@admin.display(description=_("Views"))
def views_badge(invoice: Invoice) -> SafeString:
    stats = _stats(invoice)
    if stats is None or not stats.view_count:
        return format_html(
            '<span class="view-badge view-badge--none" title="{}">0</span>',
            gettext("Not viewed yet"),
        )
    title = gettext("First viewed %(first)s · last viewed %(last)s · %(ips)d IP address(es)") % {
        "first": _company_time(invoice, stats.first_viewed_at),
        "last": _company_time(invoice, stats.last_viewed_at),
        "ips": stats.unique_ips,
    }
    recent = timezone.now() - stats.last_viewed_at <= VIEWED_RECENTLY
    marker = (
        format_html(
            ' <span class="view-badge__recent" title="{0}" aria-label="{0}">●</span>',
            gettext("viewed recently"),
        )
        if recent
        else ""
    )
    return format_html(
        '<span class="view-badge" title="{}">{}</span>{}', title, stats.view_count, marker
    )


@admin.display(description=_("View log"))
def view_log(invoice: Invoice) -> SafeString | str:
    if invoice.pk is None:
        return "—"
    stats = selectors.view_stats_for_invoice(invoice=invoice)
    records = selectors.view_records_for_invoice(invoice=invoice, limit=VIEW_LOG_LENGTH)
    rows = [
        {
            "viewed_at": _company_time(invoice, record.viewed_at),
            "source": record.get_source_display(),
            "ip": record.ip or "",
            "user_agent": record.user_agent,
            "counted": record.counted,
            "reason": record.get_reason_display() if record.reason else "",
        }
        for record in records
    ]
    context = {
        "stats": stats,
        "first_viewed_at": _company_time(invoice, stats.first_viewed_at)
        if stats.first_viewed_at
        else "",
        "last_viewed_at": _company_time(invoice, stats.last_viewed_at)
        if stats.last_viewed_at
        else "",
        "rows": rows,
        "limit": VIEW_LOG_LENGTH,
        "all_url": reverse("admin:tracking_viewrecord_changelist")
        + f"?invoice__id__exact={invoice.pk}",
    }
    return SafeString(render_to_string("tracking/admin_view_log.html", context))


@admin.register(ViewRecord)
class ViewRecordAdmin(TenantScopedAdmin):
    """Every recorded open, read-only: the complete log behind the invoice page's newest 100."""

    list_display = ["viewed_at", "invoice", "source", "ip", "counted", "reason", "user_agent"]
    list_filter = ["counted", "reason", "source"]
    search_fields = ["invoice__number", "invoice__public_id"]
    list_select_related = ["invoice"]
    date_hierarchy = "viewed_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        # Records are evidence of what happened: nobody edits them.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        return {}
