"""Reads of view tracking, always through an invoice the caller has already scoped."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from invoices.models import Invoice
from tracking.models import InvoiceViewStats, ViewRecord


@dataclass(frozen=True)
class ViewStats:
    view_count: int = 0
    first_viewed_at: dt.datetime | None = None
    last_viewed_at: dt.datetime | None = None
    unique_ips: int = 0


def view_stats_of(stats: InvoiceViewStats | None) -> ViewStats:
    if stats is None:
        return ViewStats()
    return ViewStats(
        view_count=stats.view_count,
        first_viewed_at=stats.first_viewed_at,
        last_viewed_at=stats.last_viewed_at,
        unique_ips=stats.unique_ips,
    )


def view_stats_for_invoice(*, invoice: Invoice) -> ViewStats:
    """The invoice's counted views; zeros before its first. One query."""
    stats = InvoiceViewStats.objects.filter(
        invoice_id=invoice.pk, company_id=invoice.company_id
    ).first()
    return view_stats_of(stats)


def view_records_for_invoice(*, invoice: Invoice, limit: int = 100) -> list[ViewRecord]:
    """The newest ``limit`` recorded opens, counted or not. One query."""
    return list(
        ViewRecord.objects.filter(invoice_id=invoice.pk, company_id=invoice.company_id).order_by(
            "-viewed_at", "-id"
        )[:limit]
    )
