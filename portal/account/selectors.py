"""Reads of the customer's account pages, every one scoped to the portal's customer and its
company. Amounts are integers in the currency's minor unit; days are the company's calendar
days (``invoices.timezones.company_today``)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import Greatest, RowNumber

from invoices.models import CreditNote, Customer, Invoice, InvoiceStatus
from invoices.models.credit_note import CreditNoteStatus
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


def _aging_filters(today: dt.date) -> dict[str, Q]:
    def ago(days: int) -> dt.date:
        return today - dt.timedelta(days=days)

    return {
        "current": Q(due_date__gte=today),
        "1_30": Q(due_date__lte=ago(1), due_date__gte=ago(30)),
        "31_60": Q(due_date__lte=ago(31), due_date__gte=ago(60)),
        "61_90": Q(due_date__lte=ago(61), due_date__gte=ago(90)),
        "over_90": Q(due_date__lt=ago(90)),
    }


def account_by_currency(
    *, customer: Customer, today: dt.date, with_payable: bool
) -> list[CurrencyAccount]:
    """The home's cards, one per currency (sorted). Queries, whatever the number of invoices:
    what is owed (one aggregate per currency), the credit available, the last payment per
    currency, and with ``with_payable`` the ids of the invoices that can be paid now."""
    accounts: dict[str, CurrencyAccount] = {}

    def account(currency: str) -> CurrencyAccount:
        if currency not in accounts:
            accounts[currency] = CurrencyAccount(currency, aging=dict.fromkeys(AGING_KEYS, 0))
        return accounts[currency]

    owing = Q(
        company_id=customer.company_id,
        customer_id=customer.pk,
        status__in=UNPAID_STATUSES,
        total__gt=F("amount_paid") + F("amount_credited"),
    )
    buckets = _aging_filters(today)
    sums = {
        "due_now": Sum(_OWED, filter=Q(due_date__lte=today)),
        "overdue": Sum(_OWED, filter=Q(due_date__lt=today)),
        "overdue_count": Count("id", filter=Q(due_date__lt=today)),
        "not_yet_due": Sum(_OWED, filter=Q(due_date__gt=today)),
        **{f"aging_{key}": Sum(_OWED, filter=bucket) for key, bucket in buckets.items()},
    }
    owed_rows: Any = Invoice.objects.filter(owing).values("currency").annotate(**sums).order_by()
    for row in owed_rows:
        card = account(row["currency"])
        card.due_now = int(row["due_now"] or 0)
        card.overdue = int(row["overdue"] or 0)
        card.overdue_count = int(row["overdue_count"] or 0)
        card.not_yet_due = int(row["not_yet_due"] or 0)
        card.aging = {key: int(row[f"aging_{key}"] or 0) for key in AGING_KEYS}
    for note in (
        CreditNote.objects.filter(
            company_id=customer.company_id, customer_id=customer.pk, status=CreditNoteStatus.ISSUED
        )
        .values("currency")
        .annotate(unapplied=Sum(F("amount") - F("amount_applied")))
        .order_by()
    ):
        unapplied = max(int(note["unapplied"] or 0), 0)
        if unapplied:
            account(note["currency"]).credit_available = unapplied
    newest = (
        Payment.objects.filter(company_id=customer.company_id, invoice__customer_id=customer.pk)
        .annotate(
            rank=Window(
                RowNumber(), partition_by=[F("currency")], order_by=[F("paid_at").desc(), "-id"]
            )
        )
        .filter(rank=1)
        .only("public_id", "currency", "amount", "paid_at", "method")
    )
    for payment in newest:
        account(payment.currency).last_payment = payment
    if with_payable:
        payable = defaultdict(list)
        for currency, public_id in (
            Invoice.objects.filter(owing, status=InvoiceStatus.OPEN)
            .order_by("due_date", "sequence")
            .values_list("currency", "public_id")
        ):
            payable[currency].append(public_id)
        for currency, ids in payable.items():
            account(currency).payable = ids
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
