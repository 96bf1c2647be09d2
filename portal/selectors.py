"""Reads for the customer pages that the invoices app does not need."""

from __future__ import annotations

import datetime as dt

from django.db import connection

from invoices.models import Customer

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
