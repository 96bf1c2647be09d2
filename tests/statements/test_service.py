"""The statement builder on a known ledger, and how statement requests are read."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone

from invoices import services
from invoices.models import Company, Customer
from invoices.timezones import company_today
from payments import statements
from payments.services import payment_record_offline, payment_refund
from tests import factories

pytestmark = pytest.mark.django_db


def _at(day: dt.date, hour: int = 12) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC)


def _ledger(customer: Customer) -> statements.Ledger:
    return statements.customer_ledger(customer=customer)


@pytest.fixture
def history(tenant: Company, customer: Customer) -> dict[str, Any]:
    """Three months ago: invoice A (100.00) and B (50.00); a payment of 40.00 on A ten days
    later, refunded 10.00 the day after; a credit note of 30.00 applied to B; B voided last
    month (its credit given back)."""
    today = company_today(tenant)
    start = statements.month_start(today, 3)
    a = factories.make_invoice(
        tenant, customer, lines=[("A", "1", 10000, "0")], issue_date=start, due_in_days=14
    )
    b = factories.make_invoice(
        tenant, customer, lines=[("B", "1", 5000, "0")], issue_date=start, due_in_days=14
    )
    payment = payment_record_offline(
        invoice=a, amount=4000, method="cash", paid_at=_at(start + dt.timedelta(days=10))
    )
    payment_refund(payment=payment, amount=1000)
    payment.refunds.update(refunded_at=_at(start + dt.timedelta(days=11)))
    with mock.patch("django.utils.timezone.now", return_value=_at(start + dt.timedelta(days=12))):
        note = services.credit_note_create(
            company=tenant, customer=customer, currency="usd", amount=3000
        )
        services.credit_note_apply(note=note, invoice=b)
    void_day = statements.month_start(today, 1) + dt.timedelta(days=4)
    with mock.patch("django.utils.timezone.now", return_value=_at(void_day)):
        services.invoice_void(invoice=b)
    return {"today": today, "start": start, "a": a, "b": b, "note": note, "void_day": void_day}


def test_it_lists_open_items_as_of_a_past_day(customer: Customer, history: dict[str, Any]) -> None:
    as_of = history["start"] + dt.timedelta(days=20)
    statement = statements.open_item_statement(
        ledger=_ledger(customer), currency="usd", as_of=as_of
    )
    # A: 100 - 40 + 10 = 70 due, six days overdue; B: 50 - 30 credited = 20 due (the void is
    # later); the note is fully used on that day.
    assert [(row.number, row.settled, row.due, row.days_overdue) for row in statement.rows] == [
        (history["a"].number, 3000, 7000, 6),
        (history["b"].number, 3000, 2000, 6),
    ]
    assert statement.total == 9000
    assert statement.aging.days_1_30 == 9000


def test_it_lists_unapplied_credit_as_negative_rows_after_a_void(
    customer: Customer, history: dict[str, Any]
) -> None:
    statement = statements.open_item_statement(
        ledger=_ledger(customer), currency="usd", as_of=history["today"]
    )
    assert [(row.kind, row.due) for row in statement.rows] == [
        ("invoice", 7000),
        ("credit_note", -3000),
    ]
    assert statement.total == 4000


def test_it_takes_a_void_off_on_the_void_date_and_keeps_past_months(
    customer: Customer, history: dict[str, Any]
) -> None:
    ledger = _ledger(customer)
    first = history["start"]
    march = statements.balance_forward_statement(
        ledger=ledger, currency="usd", start=first, end=statements.month_end(first)
    )
    # Same day: invoices first; then payment, refund, credit note on their days.
    assert [(line.type, line.debit, line.credit, line.balance) for line in march.lines] == [
        ("invoice", 10000, 0, 10000),
        ("invoice", 5000, 0, 15000),
        ("payment", 0, 4000, 11000),
        ("refund", 1000, 0, 12000),
        ("credit_note", 0, 3000, 9000),
    ]
    assert (march.invoiced, march.paid, march.refunded, march.credited) == (15000, 4000, 1000, 3000)
    last_month = statements.month_start(history["today"], 1)
    voided = statements.balance_forward_statement(
        ledger=ledger, currency="usd", start=last_month, end=statements.month_end(last_month)
    )
    assert voided.opening == 9000
    assert [(line.date, line.type, line.credit) for line in voided.lines] == [
        (history["void_day"], "invoice_void", 5000)
    ]
    assert voided.closing == 4000


def test_it_offers_calendar_months() -> None:
    months = statements.months_offered(dt.date(2026, 3, 31))
    assert len(months) == 37
    assert months[0] == dt.date(2026, 3, 1)
    assert months[1] == dt.date(2026, 2, 1)
    assert months[-1] == dt.date(2023, 3, 1)
    assert statements.month_end(dt.date(2024, 2, 1)) == dt.date(2024, 2, 29)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"type": "weekly"}, "type"),
        ({"as_of": "2026-13-01"}, "as_of"),
        ({"as_of": "yesterday"}, "as_of"),
        ({"as_of": "2999-01-01"}, "as_of"),
        ({"month": "2026-3"}, "month"),
        ({"month": "1999-01"}, "month"),
        ({"month": "2026-02", "from": "2026-02-01"}, "month"),
        ({"from": "2026-03-02", "to": "2026-03-01"}, "from"),
        ({"from": "1990-01-01"}, "from"),
        ({"currency": "xyz"}, "currency"),
        ({"currency": "eur"}, "currency"),
    ],
)
def test_it_refuses_bad_parameters_with_a_message(
    customer: Customer, params: dict[str, str], field: str
) -> None:
    factories.make_invoice(customer.company, customer)
    with pytest.raises(statements.StatementRefused) as refused:
        statements.statement_request(
            params=params, ledger=_ledger(customer), today=dt.date(2026, 3, 15)
        )
    assert refused.value.field == field
    assert refused.value.status == 400
    assert refused.value.message


def test_it_reads_a_month_and_defaults(customer: Customer) -> None:
    factories.make_invoice(customer.company, customer, currency="eur")
    ledger = _ledger(customer)
    today = dt.date(2026, 3, 15)
    request = statements.statement_request(params={"month": "2026-02"}, ledger=ledger, today=today)
    assert (request.kind, request.currency, request.start, request.end) == (
        "balance_forward",
        "eur",
        dt.date(2026, 2, 1),
        dt.date(2026, 2, 28),
    )
    current = statements.statement_request(params={}, ledger=ledger, today=today)
    assert (current.start, current.end) == (dt.date(2026, 3, 1), today)
    assert current.query() == {"type": "balance_forward", "currency": "eur", "month": "2026-03"}


def test_the_ledger_is_read_in_five_queries(
    customer: Customer, history: dict[str, Any], django_assert_num_queries: Any
) -> None:
    # Invoices (with their void day), credit notes, payments, refunds, credit applications.
    with django_assert_num_queries(5):
        statements.customer_ledger(customer=customer)


def test_it_is_scoped_to_the_customer(tenant: Company, customer: Customer) -> None:
    factories.make_invoice(tenant, customer, lines=[("Mine", "1", 100, "0")])
    factories.make_invoice(tenant, lines=[("Someone else's", "1", 999, "0")])
    statement = statements.open_item_statement(
        ledger=_ledger(customer), currency="usd", as_of=timezone.localdate()
    )
    assert statement.total == 100


def test_a_36_month_statement_reads_no_row_by_row(
    tenant: Company, customer: Customer, django_assert_num_queries: Any
) -> None:
    today = company_today(tenant)
    for back in range(statements.MONTHS_OFFERED + 1):
        day = statements.month_start(today, back)
        invoice = factories.make_invoice(
            tenant, customer, lines=[("Month", "1", 10000, "0")], issue_date=day
        )
        payment_record_offline(invoice=invoice, amount=4000, method="cash", paid_at=_at(day))
    started = time.perf_counter()
    # The five ledger queries, then every one of the 37 monthly statements and the open items
    # from memory: no query per invoice, payment or month.
    with django_assert_num_queries(5):
        ledger = _ledger(customer)
        earliest = statements.month_start(today, statements.MONTHS_OFFERED)
        whole = statements.balance_forward_statement(
            ledger=ledger, currency="usd", start=earliest, end=today
        )
        for first in statements.months_offered(today):
            statements.balance_forward_statement(
                ledger=ledger, currency="usd", start=first, end=statements.month_end(first)
            )
        items = statements.open_item_statement(ledger=ledger, currency="usd", as_of=today)
    assert time.perf_counter() - started < 2.0
    assert len(whole.lines) == 74
    assert whole.closing == items.total == 37 * 6000


def test_money_kept_as_credit_on_a_void_is_counted_once(
    tenant: Company, customer: Customer
) -> None:
    from invoices.selectors import customer_balance
    from payments.services import invoice_void

    invoice = factories.make_invoice(tenant, customer, lines=[("A", "1", 10000, "0")])
    payment_record_offline(invoice=invoice, amount=4000, method="cash")
    invoice_void(invoice=invoice, payments="credit")
    today = company_today(tenant)
    ledger = _ledger(customer)
    forward = statements.balance_forward_statement(
        ledger=ledger, currency="usd", start=statements.month_start(today), end=today
    )
    # The credit note keeps the 40.00 already received: a row that changes nothing.
    assert [(line.type, line.debit, line.credit) for line in forward.lines] == [
        ("invoice", 10000, 0),
        ("invoice_void", 0, 10000),
        ("credit_note", 0, 0),
        ("payment", 0, 4000),
    ]
    items = statements.open_item_statement(ledger=ledger, currency="usd", as_of=today)
    assert [(row.kind, row.due) for row in items.rows] == [("credit_note", -4000)]
    [balance] = customer_balance(customer=customer, today=today)
    assert forward.closing == items.total == -balance.credit_available == -4000
