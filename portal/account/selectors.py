"""Reads of the customer's account pages, every one scoped to the portal's customer and its
company. Amounts are integers in the currency's minor unit; days are the company's calendar
days (``invoices.timezones.company_today``)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import (
    BigIntegerField,
    Case,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Greatest

from invoices import rows
from invoices.models import CreditNote, Customer, Invoice, InvoiceStatus
from invoices.models.credit_note import CreditNoteStatus
from invoices.rows import prepared_cursor
from invoices.selectors import UNPAID_STATUSES
from payments.models import Payment
from portal.account.filters import InvoiceFilter

# What is still owed on an invoice, as SQL: nothing on a void one, never below zero.
_OWED = ExpressionWrapper(
    F("total") - F("amount_paid") - F("amount_credited"), output_field=BigIntegerField()
)
AMOUNT_DUE = Case(
    When(status=InvoiceStatus.VOID, then=Value(0)),
    default=Greatest(_OWED, Value(0)),
    output_field=BigIntegerField(),
)

# What the list shows of an invoice; what the pay partials read (company and customer are
# set from the portal's, never queried per row).
LIST_FIELDS = (
    "id",
    "company_id",
    "customer_id",
    "public_id",
    "number",
    "sequence",
    "status",
    "currency",
    "issue_date",
    "due_date",
    "total",
    "amount_paid",
    "amount_credited",
    "allow_partial_payments",
    "minimum_payment",
    "finalized_at",
    "updated_at",
)

# "All" lists every issued invoice but the void ones; void ones only when asked for.
_LISTED = (InvoiceStatus.OPEN, InvoiceStatus.PAID, InvoiceStatus.UNCOLLECTIBLE)


def invoices_filtered(
    *, customer: Customer, invoice_filter: InvoiceFilter, today: dt.date
) -> QuerySet[Invoice]:
    """The customer's invoices ``invoice_filter`` selects, in its order, annotated with
    ``due`` (the amount still owed). Drafts never. Served by the (customer, status,
    -issue_date) index."""
    wanted = Q(company_id=customer.company_id, customer_id=customer.pk)
    status = invoice_filter.status
    if status == "all":
        wanted &= Q(status__in=_LISTED)
    elif status == "open":
        wanted &= Q(status__in=UNPAID_STATUSES)
    elif status == "overdue":
        wanted &= Q(status__in=UNPAID_STATUSES, due_date__lt=today)
    elif status == "paid":
        wanted &= Q(status=InvoiceStatus.PAID)
    else:
        wanted &= Q(status=InvoiceStatus.VOID)
    if invoice_filter.date_from:
        wanted &= Q(issue_date__gte=invoice_filter.date_from)
    if invoice_filter.date_to:
        wanted &= Q(issue_date__lte=invoice_filter.date_to)
    if invoice_filter.q:
        wanted &= Q(number__icontains=invoice_filter.q)
    rows = Invoice.objects.filter(wanted).annotate(due=AMOUNT_DUE)
    if status == "overdue":
        rows = rows.filter(due__gt=0)
    column = "due" if invoice_filter.sort == "amount_due" else invoice_filter.sort
    sign = "-" if invoice_filter.order == "desc" else ""
    # The sequence breaks ties the same way every time, so pages never overlap.
    return rows.only(*LIST_FIELDS).order_by(f"{sign}{column}", f"{sign}sequence")


# The home ----------------------------------------------------------------------------------


@dataclass
class CurrencyAccount:
    """One currency of the customer's account, minor units. Never summed with another."""

    currency: str
    due_now: int = 0  # owed on invoices due today or earlier
    overdue: int = 0  # owed on invoices past their due date
    overdue_count: int = 0
    not_yet_due: int = 0  # owed on invoices due after today
    aging: dict[str, int] = field(default_factory=dict)  # current, 1_30, 31_60, 61_90, over_90
    credit_available: int = 0
    last_payment: Payment | None = None
    # Invoices that can be paid now (for "Pay everything due"), oldest due date first.
    payable: list[str] = field(default_factory=list)

    @property
    def outstanding(self) -> int:
        return self.due_now + self.not_yet_due


# Aging buckets by days past the due date, the same as the statements' (payments.statements).
AGING_KEYS = ("current", "1_30", "31_60", "61_90", "over_90")

# The home is read on every first view of a customer's portal: hand-written SQL (through the
# ORM, building these aggregates cost about 9 ms of Python per page), prepared once per
# connection (invoices.rows.prepared_cursor), the same on PostgreSQL and SQLite.
# What is owed, one row per invoice still owing (oldest due date first, as "Pay everything
# due" pays them), then the unapplied credit per issued credit note. ``place``: where the due
# date falls: later, today or an aging bucket past it.
_OWED_AND_CREDIT_SQL = """
SELECT 'invoice', currency, total - amount_paid - amount_credited, status, public_id,
       CASE WHEN due_date > %(today)s THEN 'later'
            WHEN due_date = %(today)s THEN 'today'
            WHEN due_date >= %(ago30)s THEN '1_30'
            WHEN due_date >= %(ago60)s THEN '31_60'
            WHEN due_date >= %(ago90)s THEN '61_90'
            ELSE 'over_90' END,
       due_date, sequence
FROM invoices_invoice
WHERE company_id = %(company)s AND customer_id = %(customer)s
  AND status IN (%(open)s, %(uncollectible)s) AND total > amount_paid + amount_credited
UNION ALL
SELECT 'credit', currency, amount - amount_applied, status, public_id, NULL, NULL, NULL
FROM invoices_creditnote
WHERE company_id = %(company)s AND customer_id = %(customer)s AND status = %(issued)s
ORDER BY 1, 7, 8
"""
# The newest payment in each currency of the customer's invoices.
_LAST_PAYMENTS_SQL = """
SELECT {payment} FROM (
  SELECT p.*, ROW_NUMBER() OVER (
    PARTITION BY p.currency ORDER BY p.paid_at DESC, p.id DESC) AS newest
  FROM payments_payment p JOIN invoices_invoice i ON i.id = p.invoice_id
  WHERE p.company_id = %(company)s AND i.customer_id = %(customer)s
) p
WHERE newest = 1
"""
_LAST_PAYMENT_FIELDS = ("id", "public_id", "currency", "amount", "paid_at", "method")
_OVERDUE_PLACES = frozenset(AGING_KEYS) - {"current"}


def account_by_currency(
    *, customer: Customer, today: dt.date, with_payable: bool
) -> list[CurrencyAccount]:
    """The home's cards, one per currency (sorted). Two queries whatever the number of
    invoices: what is owed with the credit available, and the last payment per currency.
    ``with_payable``: fill in the invoices that can be paid now."""
    accounts: dict[str, CurrencyAccount] = {}

    def account(currency: str) -> CurrencyAccount:
        if currency not in accounts:
            accounts[currency] = CurrencyAccount(currency, aging=dict.fromkeys(AGING_KEYS, 0))
        return accounts[currency]

    scope = {"company": customer.company_id, "customer": customer.pk}
    params = {
        **scope,
        "today": today,
        **{f"ago{days}": today - dt.timedelta(days=days) for days in (30, 60, 90)},
        "open": InvoiceStatus.OPEN.value,
        "uncollectible": InvoiceStatus.UNCOLLECTIBLE.value,
        "issued": CreditNoteStatus.ISSUED.value,
    }
    credit: dict[str, int] = defaultdict(int)
    with prepared_cursor(connection) as cursor:
        cursor.execute(_OWED_AND_CREDIT_SQL, params)
        found = cursor.fetchall()
    for kind, currency, amount, status, public_id, place, _due, _sequence in found:
        if kind == "credit":
            credit[currency] += amount
            continue
        card = account(currency)
        if place == "later":
            card.not_yet_due += amount
        else:
            card.due_now += amount
        card.aging["current" if place in ("later", "today") else place] += amount
        if place in _OVERDUE_PLACES:
            card.overdue += amount
            card.overdue_count += 1
        if with_payable and status == InvoiceStatus.OPEN:
            card.payable.append(public_id)
    for currency, unapplied in credit.items():
        if unapplied > 0:
            account(currency).credit_available = unapplied
    payments = rows.fetch_all(
        _LAST_PAYMENTS_SQL.format(payment=rows.columns(Payment, "p", _LAST_PAYMENT_FIELDS)),
        scope,
        Payment,
        "p",
        _LAST_PAYMENT_FIELDS,
    )
    for payment in payments:
        assert isinstance(payment, Payment)
        account(payment.currency).last_payment = payment
    return [accounts[currency] for currency in sorted(accounts)]


# Payments and credit notes -----------------------------------------------------------------


def payments_for_customer(*, customer: Customer) -> QuerySet[Payment]:
    """Every payment received for the customer's invoices (online and recorded offline),
    newest first, with its invoice (the allocation)."""
    return (
        Payment.objects.filter(company_id=customer.company_id, invoice__customer_id=customer.pk)
        .select_related("invoice")
        .only(
            "public_id",
            "amount",
            "amount_refunded",
            "currency",
            "status",
            "method",
            "paid_at",
            "reference",
            "surplus",
            "surplus_handling",
            *(f"invoice__{name}" for name in LIST_FIELDS),
        )
        .order_by("-paid_at", "-id")
    )


def payment_for_customer(*, customer: Customer, public_id: str) -> Payment | None:
    """One of the customer's payments, with its invoice; None for anyone else's."""
    return (
        Payment.objects.filter(
            company_id=customer.company_id, invoice__customer_id=customer.pk, public_id=public_id
        )
        .select_related("invoice")
        .first()
    )


CUSTOMER_CREDIT_NOTE_STATUSES = (CreditNoteStatus.ISSUED, CreditNoteStatus.VOID)


def credit_notes_for_customer(*, customer: Customer) -> QuerySet[CreditNote]:
    """The customer's issued credit notes (and voided ones, marked), newest first; never a
    draft. Served by the (customer, status) index."""
    return (
        CreditNote.objects.filter(
            company_id=customer.company_id,
            customer_id=customer.pk,
            status__in=CUSTOMER_CREDIT_NOTE_STATUSES,
        )
        .select_related("invoice")
        .only(
            "public_id",
            "number",
            "status",
            "currency",
            "amount",
            "amount_applied",
            "reason",
            "issued_at",
            "created_at",
            "invoice__number",
        )
        .order_by("-issued_at", "-id")
    )
