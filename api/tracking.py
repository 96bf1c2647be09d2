"""``GET /api/v1/invoices/<id>/views``: the invoice's view statistics and its view log."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import Field

from api.examples import described
from api.invoices import get_invoice
from tracking import selectors

router = Router(tags=["views"])

# The log lists the newest opens first; older ones stay in the database.
MAX_VIEWS = 500


class ViewOut(Schema):
    """One recorded open. Exactly the contract's keys: previews, scanners, staff and repeats are
    listed too (every open is recorded) and only ``view_count`` says which of them counted."""

    viewed_at: dt.datetime
    source: str = Field(description="link, email, portal or api")
    ip: str | None
    user_agent: str


class ViewsOut(Schema):
    view_count: int
    first_viewed_at: dt.datetime | None
    last_viewed_at: dt.datetime | None
    unique_ips: int
    views: list[ViewOut]


@router.get(
    "/invoices/{invoice_id}/views",
    response=ViewsOut,
    **described(
        "An invoice's views",
        "GET",
        "/invoices/inv_123/views?limit=100",
        None,
        "Counted views (count, first and last, distinct IPs) and the newest recorded opens, "
        "counted or not, newest first (`limit`, at most 500).",
    ),
)
def invoice_views(request: HttpRequest, invoice_id: str, limit: int = 100) -> ViewsOut:
    """Counted views (count, first and last, distinct IPs) and the newest recorded opens,
    counted or not, newest first (``limit``, at most 500), in the contract's shape."""
    invoice = get_invoice(request, invoice_id)
    stats = selectors.view_stats_for_invoice(invoice=invoice)
    records = selectors.view_records_for_invoice(
        invoice=invoice, limit=max(1, min(limit, MAX_VIEWS))
    )
    return ViewsOut(
        view_count=stats.view_count,
        first_viewed_at=stats.first_viewed_at,
        last_viewed_at=stats.last_viewed_at,
        unique_ips=stats.unique_ips,
        views=[
            ViewOut(
                viewed_at=record.viewed_at,
                source=record.source,
                ip=record.ip,
                user_agent=record.user_agent,
            )
            for record in records
        ],
    )
