"""Reads for the customer pages that the invoices app does not need."""

from __future__ import annotations

import datetime as dt

from django.db import connection

from invoices.models import Customer

# One round trip: everything a customer's portal list shows can only change if one of these
# values changes (statuses and payments touch updated_at; credit notes change amounts or
# status; row links are created, revoked or expire). Scalar subqueries work on PostgreSQL and
# SQLite alike.
_PORTAL_VERSION_SQL = """
SELECT
  (SELECT COUNT(*) FROM invoices_invoice WHERE customer_id = %(customer)s),
  (SELECT MAX(updated_at) FROM invoices_invoice WHERE customer_id = %(customer)s),
  (SELECT SUM(amount_paid) FROM invoices_invoice WHERE customer_id = %(customer)s),
  (SELECT SUM(amount_credited) FROM invoices_invoice WHERE customer_id = %(customer)s),
  (SELECT COUNT(*) FROM invoices_creditnote WHERE customer_id = %(customer)s),
  (SELECT SUM(amount - amount_applied) FROM invoices_creditnote
     WHERE customer_id = %(customer)s AND status = 'issued'),
  (SELECT COUNT(*) FROM invoices_creditnote
     WHERE customer_id = %(customer)s AND status = 'issued'),
  (SELECT COUNT(*) FROM invoices_sharelink
     WHERE customer_id = %(customer)s AND kind = 'invoice'),
  (SELECT MAX(revoked_at) FROM invoices_sharelink
     WHERE customer_id = %(customer)s AND kind = 'invoice'),
  (SELECT COUNT(*) FROM invoices_sharelink
     WHERE customer_id = %(customer)s AND kind = 'invoice' AND revoked_at IS NULL
       AND expires_at IS NOT NULL AND expires_at <= %(now)s)
"""


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
