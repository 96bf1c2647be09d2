"""The token lookups run as statements PostgreSQL prepared once per connection: the same
answers, the same one query (logged and counted like any other), and no planning after the
first call."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from invoices import rows
from invoices.selectors import customer_for_portal_token, invoice_for_share_token
from tests.factories import make_company, make_customer, make_invoice, portal_token, share_token

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's"
    ),
]


def _prepared_statements() -> dict[str, int]:
    """The statements this connection prepared and how often each ran (generic plus custom
    plans), keyed by their text."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements")
        return dict(cursor.fetchall())


def test_the_invoice_lookup_is_prepared_once_and_still_counted() -> None:
    company = make_company()
    invoices = [make_invoice(company, make_customer(company)) for _ in range(3)]
    tokens = [share_token(invoice) for invoice in invoices]

    with CaptureQueriesContext(connection) as queries:
        found = [invoice_for_share_token(token) for token in tokens * 2]

    # One query per lookup, each logged (the prepared cursor is wrapped like Django's own),
    # with the values in, as Django logs its own.
    assert len(queries.captured_queries) == 6
    logged = queries.captured_queries[0]["sql"]
    assert "FROM invoices_sharelink" in logged and "'open'" in logged
    assert [invoice.pk for invoice in found if invoice] == [i.pk for i in invoices] * 2
    assert found[0] is not None and found[0].customer.company_id == company.pk
    lookups = {
        sql: runs for sql, runs in _prepared_statements().items() if "invoices_sharelink" in sql
    }
    # A single prepared statement served all six lookups (the parameters travel apart).
    assert list(lookups.values()) == [6]


def test_the_portal_lookup_is_prepared_and_a_forged_token_still_asks_nothing() -> None:
    company = make_company()
    customer = make_customer(company)
    token = portal_token(customer)

    for _ in range(3):
        assert (found := customer_for_portal_token(token)) is not None
        assert found.pk == customer.pk and found.company.pk == company.pk
    with CaptureQueriesContext(connection) as queries:
        assert customer_for_portal_token(token[:-2] + "xx") is None
    assert queries.captured_queries == []
    portal_lookups = [
        runs for sql, runs in _prepared_statements().items() if "JOIN invoices_company" in sql
    ]
    assert 3 in portal_lookups


def test_the_prepared_cursor_answers_like_django_cursors() -> None:
    with rows.prepared_cursor(connection) as cursor:
        cursor.execute("SELECT %(a)s::int + %(b)s::int, %(s)s::text", {"a": 40, "b": 2, "s": "é"})
        assert cursor.fetchone() == (42, "é")
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::int + 1", [41])
        assert cursor.fetchone() == (42,)
