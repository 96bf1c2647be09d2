"""Reads for the customer pages that the invoices app does not need."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from invoices import rows
from invoices.models import Customer, Invoice, ShareLinkKind
from invoices.selectors import (
    CUSTOMER_VISIBLE_STATUSES,
    VISIBLE_STATUS_PARAMS,
    VISIBLE_STATUSES_SQL,
)

# Everything a customer's portal list shows can only change if one of these values changes
# (statuses and payments touch updated_at; credit notes change amounts or status; row links
# are created, revoked or expire). Scalar subqueries over ``{customer}`` (the customer's id)
# that work on PostgreSQL and SQLite alike.
_PORTAL_VERSION_PARTS = (
    "SELECT COUNT(*) FROM invoices_invoice WHERE customer_id = {customer}",
    "SELECT MAX(updated_at) FROM invoices_invoice WHERE customer_id = {customer}",
    "SELECT SUM(amount_paid) FROM invoices_invoice WHERE customer_id = {customer}",
    "SELECT SUM(amount_credited) FROM invoices_invoice WHERE customer_id = {customer}",
    "SELECT COUNT(*) FROM invoices_creditnote WHERE customer_id = {customer}",
    "SELECT SUM(amount - amount_applied) FROM invoices_creditnote"
    " WHERE customer_id = {customer} AND status = 'issued'",
    "SELECT COUNT(*) FROM invoices_creditnote WHERE customer_id = {customer} AND status = 'issued'",
    "SELECT COUNT(*) FROM invoices_sharelink WHERE customer_id = {customer} AND kind = 'invoice'",
    "SELECT MAX(revoked_at) FROM invoices_sharelink"
    " WHERE customer_id = {customer} AND kind = 'invoice'",
    "SELECT COUNT(*) FROM invoices_sharelink"
    " WHERE customer_id = {customer} AND kind = 'invoice' AND revoked_at IS NULL"
    " AND expires_at IS NOT NULL AND expires_at <= %(now)s",
)
# One round trip on its own.
_PORTAL_VERSION_SQL = "SELECT " + ",\n".join(
    f"({part.format(customer='%(customer)s')})" for part in _PORTAL_VERSION_PARTS
)
# The same values inside a portal token lookup (invoices.selectors.Annotations; ``u`` is the
# customer), read back with portal_data_version_from.
PORTAL_VERSION_SQL = {
    f"portal_version_{n}": part.format(customer="u.id")
    for n, part in enumerate(_PORTAL_VERSION_PARTS)
}


def portal_data_version(*, customer: Customer, now: dt.datetime) -> str:
    """A string that changes whenever the portal list of ``customer`` may show something new.
    One query."""
    with connection.cursor() as cursor:
        cursor.execute(
            _PORTAL_VERSION_SQL,
            {"customer": customer.pk, "now": connection.ops.adapt_datetimefield_value(now)},
        )
        row = cursor.fetchone() or ()
    return "|".join(str(value) for value in row)


def portal_data_version_from(customer: Customer) -> str:
    """portal_data_version of a customer looked up with PORTAL_VERSION_SQL: no query."""
    return "|".join(str(getattr(customer, name)) for name in PORTAL_VERSION_SQL)


# One page of the portal's list with each row's live share link and the number of invoices
# listed, in one round trip (hand-written: the ORM's paginator, page and links queries cost
# three round trips and several milliseconds of Python on every first view). The newest first;
# the sequence breaks ties the same way every time, so pages never overlap. At most one live
# link per invoice (a unique constraint); an expired one reads as none.
_LIST_PAGE_SQL = """
SELECT {invoice}, s.selector, (
  SELECT COUNT(*) FROM invoices_invoice
  WHERE company_id = %(company)s AND customer_id = %(customer)s AND status IN ({statuses})
)
FROM invoices_invoice i
LEFT JOIN invoices_sharelink s ON s.invoice_id = i.id AND s.kind = %(kind)s
  AND s.revoked_at IS NULL AND (s.expires_at IS NULL OR s.expires_at > %(now)s)
WHERE i.company_id = %(company)s AND i.customer_id = %(customer)s AND i.status IN ({statuses})
ORDER BY i.issue_date DESC, i.sequence DESC
LIMIT %(limit)s OFFSET %(offset)s
"""


@dataclass(frozen=True)
class ListPage:
    """One page of a customer's invoices (each with ``selector``: its live share link's, or
    None when it has none yet)."""

    invoices: list[Invoice]
    number: int
    num_pages: int
    count: int


def portal_list_page(
    *, customer: Customer, number: int, size: int, fields: tuple[str, ...]
) -> ListPage:
    """Page ``number`` (from 1; past the end: the last) of the invoices ``customer`` sees,
    newest first, with ``fields`` loaded. One query (three for a page past the end)."""
    sql = _LIST_PAGE_SQL.format(
        invoice=rows.columns(Invoice, "i", fields),
        statuses=VISIBLE_STATUSES_SQL,
    )
    params = {
        "company": customer.company_id,
        "customer": customer.pk,
        "kind": ShareLinkKind.INVOICE.value,
        "now": connection.ops.adapt_datetimefield_value(timezone.now()),
        "limit": size,
        **VISIBLE_STATUS_PARAMS,
    }

    def page(number: int) -> list[Invoice]:
        found = rows.fetch_all(
            sql,
            {**params, "offset": (number - 1) * size},
            Invoice,
            "i",
            fields,
            extras=("selector", "listed"),
        )
        return [invoice for invoice in found if isinstance(invoice, Invoice)]

    number = max(number, 1)
    invoices = page(number)
    if not invoices and number > 1:
        # Past the end: the last page, as Django's paginator answers (its number is unknown
        # until the count is: two more queries, for made-up or outdated page numbers only).
        listed = Invoice.objects.filter(
            company_id=customer.company_id,
            customer_id=customer.pk,
            status__in=CUSTOMER_VISIBLE_STATUSES,
        ).count()
        number = max(math.ceil(listed / size), 1)
        invoices = page(number)
    count = int(invoices[0].listed) if invoices else 0  # type: ignore[attr-defined]
    return ListPage(
        invoices=invoices,
        number=number,
        num_pages=max(math.ceil(count / size), 1),
        count=count,
    )
