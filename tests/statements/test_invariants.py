"""The statement invariants, over random ledgers made through the real services (invoices,
offline payments, refunds, credit notes applied and voided, invoices voided), each on its own
simulated day and hour in the company's time zone:

- the closing balance of month M is the opening balance of month M+1;
- a balance-forward statement's closing at D is the open-item total at D;
- opening + debits - credits = closing, and opening + invoiced - paid - credited + refunded too;
- today's statement total is the customer's balance (outstanding - credit available);
- a statement of a past day never changes, whatever happens later.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import ApplicationError
from invoices import selectors, services
from invoices.models import Company, InvoiceStatus
from invoices.timezones import company_today
from payments import statements
from payments.models import Payment, Refund
from payments.services import invoice_void, payment_record_offline, payment_refund
from tests import factories

pytestmark = pytest.mark.django_db

ZONES = ("UTC", "America/New_York", "Pacific/Auckland", "Europe/Berlin")

operation = st.one_of(
    st.tuples(st.just("invoice"), st.integers(1, 50_000), st.integers(0, 45)),
    st.tuples(st.just("pay"), st.integers(0, 9), st.sampled_from([1, 2, 3])),
    st.tuples(st.just("pay"), st.integers(0, 9), st.sampled_from([1, 2, 3])),
    st.tuples(st.just("refund"), st.integers(0, 9), st.sampled_from([1, 2])),
    st.tuples(st.just("credit_note"), st.integers(1, 20_000), st.just(0)),
    st.tuples(st.just("apply"), st.integers(0, 4), st.integers(0, 9)),
    st.tuples(st.just("void_invoice"), st.integers(0, 9), st.sampled_from(["refund", "credit"])),
    st.tuples(st.just("void_note"), st.integers(0, 4), st.just(0)),
)
invoice_operation = st.tuples(st.just("invoice"), st.integers(1, 50_000), st.integers(0, 45))
# Each step: how many days after the previous one (0: the same day), the hour, the operation;
# the ledger opens with an invoice or two so that most steps have something to act on.
step = st.tuples(st.integers(0, 12), st.integers(0, 23), operation)
first_steps = st.lists(
    st.tuples(st.integers(0, 12), st.integers(0, 23), invoice_operation), min_size=1, max_size=2
)
ledgers = st.builds(
    lambda first, rest: first + rest, first_steps, st.lists(step, min_size=2, max_size=12)
)


def _run(company: Company, customer: Any, ops: list[Any], start: dt.date) -> Any:
    """Apply ``ops`` through the services, each at its simulated moment. Returns the statements
    of past days seen half-way."""
    zone = zoneinfo.ZoneInfo(company.time_zone)
    today = company_today(company)
    day = start
    invoices: list[Any] = []
    notes: list[Any] = []
    payments: list[Payment] = []
    snapshot: Any = None
    for index, (gap, hour, (name, a, b)) in enumerate(ops):
        day = min(day + dt.timedelta(days=gap), today)
        moment = dt.datetime.combine(day, dt.time(hour, 17), tzinfo=zone)
        moment = min(moment, timezone.now())
        if index == len(ops) // 2:
            snapshot = (day, _past_statements(customer, day))
        with mock.patch("django.utils.timezone.now", return_value=moment):
            try:
                if name == "invoice":
                    invoices.append(
                        factories.make_invoice(
                            company,
                            customer,
                            lines=[("Work", "1", a, "0")],
                            issue_date=day,
                            due_in_days=b,
                        )
                    )
                elif name == "pay" and invoices:
                    invoice = invoices[a % len(invoices)]
                    invoice.refresh_from_db()
                    amount = invoice.amount_due // b
                    if amount > 0:
                        payments.append(
                            payment_record_offline(
                                invoice=invoice, amount=amount, method="cash", paid_at=moment
                            )
                        )
                elif name == "refund" and payments:
                    payment = payments[a % len(payments)]
                    payment.refresh_from_db()
                    left = payment.amount - payment.amount_refunded
                    # Not once its invoice is void: what was paid is refunded or credited then.
                    voided = payment.invoice.status == InvoiceStatus.VOID
                    if left // b > 0 and not voided:
                        payment_refund(payment=payment, amount=left // b)
                        # Refund.refunded_at defaults to the real now: date the new one.
                        newest = payment.refunds.latest("id")
                        Refund.objects.filter(pk=newest.pk).update(refunded_at=moment)
                elif name == "credit_note":
                    notes.append(
                        services.credit_note_create(
                            company=company, customer=customer, currency="usd", amount=a
                        )
                    )
                elif name == "apply" and notes and invoices:
                    services.credit_note_apply(
                        note=notes[a % len(notes)], invoice=invoices[b % len(invoices)]
                    )
                elif name == "void_invoice" and invoices:
                    invoice = invoices[a % len(invoices)]
                    invoice.refresh_from_db()
                    if invoice.status != InvoiceStatus.VOID:
                        # What was paid is refunded, or kept as a credit note (b).
                        invoice_void(invoice=invoice, payments=b)
                        for refund in Refund.objects.filter(payment__invoice=invoice):
                            if refund.refunded_at > moment:
                                Refund.objects.filter(pk=refund.pk).update(refunded_at=moment)
                elif name == "void_note" and notes:
                    services.credit_note_void(note=notes[a % len(notes)])
            except ApplicationError:
                pass  # refused by the service (a paid invoice, a spent note): nothing changed
    return snapshot


def _past_statements(customer: Any, day: dt.date) -> Any:
    ledger = statements.customer_ledger(customer=customer)
    past = [day - dt.timedelta(days=n) for n in (1, 5, 20)]
    return {
        d: (
            statements.open_item_statement(ledger=ledger, currency="usd", as_of=d),
            statements.balance_forward_statement(
                ledger=ledger, currency="usd", start=statements.month_start(d), end=d
            ),
        )
        for d in past
    }


@settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=ledgers, zone=st.sampled_from(ZONES), back=st.integers(20, 120))
def test_statement_invariants_hold_on_random_ledgers(
    tenant: Company, ops: list[Any], zone: str, back: int
) -> None:
    tenant.time_zone = zone
    tenant.save(update_fields=["time_zone"])
    customer = factories.make_customer(tenant)
    today = company_today(tenant)
    start = today - dt.timedelta(days=back)
    snapshot = _run(tenant, customer, ops, start)
    ledger = statements.customer_ledger(customer=customer)

    # Month by month from the first to the current: closing of M is opening of M+1.
    months = sorted(m for m in statements.months_offered(today) if m >= start.replace(day=1))
    previous = None
    for first in months:
        statement = statements.balance_forward_statement(
            ledger=ledger, currency="usd", start=first, end=min(statements.month_end(first), today)
        )
        if previous is not None:
            assert statement.opening == previous.closing
        assert statement.opening + statement.debits - statement.credits == statement.closing
        assert (
            statement.opening
            + statement.invoiced
            - statement.paid
            - statement.credited
            + statement.refunded
            == statement.closing
        )
        previous = statement

    # Balance forward closing at D = open-item total at D, for every day of the history.
    day = start - dt.timedelta(days=1)
    while day <= today:
        forward = statements.balance_forward_statement(
            ledger=ledger, currency="usd", start=start, end=day
        )
        assert forward.opening == 0
        items = statements.open_item_statement(ledger=ledger, currency="usd", as_of=day)
        assert forward.closing == items.total, day
        assert sum(items.aging.as_dict().values()) == items.owed
        day += dt.timedelta(days=1)

    # Today's total is the balance the portal and the API show.
    balance = {
        row.currency: row.outstanding - row.credit_available
        for row in selectors.customer_balance(customer=customer, today=today)
    }
    today_total = statements.open_item_statement(ledger=ledger, currency="usd", as_of=today)
    assert today_total.total == balance.get("usd", 0)

    # What was stated about past days then is what is stated now.
    if snapshot is not None:
        seen_on, seen = snapshot
        assert _past_statements(customer, seen_on) == seen
