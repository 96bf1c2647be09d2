"""Statements of account: what a customer owed, paid and was credited, in one currency.

Two kinds, both built from one read of the customer's ledger (:func:`customer_ledger`, five
queries whatever its size), in the company's time zone:

- *Open item* as of a day: every issued invoice that still owed something **on that day**
  (payments, refunds and credit applications dated on or before it), plus credit the customer
  had not used yet as negative rows.
- *Balance forward* over a period: the balance before it, then every ledger entry in it with a
  running balance. An invoice voided after it was issued leaves its ``+total`` on the issue day
  and gets a ``-total`` on the day it was voided, so a statement of an earlier period never
  changes afterwards.

Both sum the same entries, so the closing balance of a balance-forward statement at a day is
the total of the open-item statement at that day (tests/statements prove it over random
ledgers). Amounts are integers in the currency's minor unit; a debit is what the customer owes
more, a credit what they owe less.

Payments live on this floor (``payments``), which is why statements do too: the portal, the
API, the admin and the emails (all above) build them here.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import OuterRef, Subquery

from core.errors import ApplicationError
from invoices.models import (
    Company,
    CreditApplication,
    CreditNote,
    Customer,
    Invoice,
    InvoiceStatus,
    InvoiceStatusChange,
)
from invoices.models.credit_note import CreditNoteStatus
from invoices.money import UnknownCurrency, normalize_currency
from invoices.selectors import CUSTOMER_VISIBLE_STATUSES
from invoices.timezones import company_date
from payments.models import Payment, Refund

OPEN_ITEM = "open_item"
BALANCE_FORWARD = "balance_forward"
KINDS = (OPEN_ITEM, BALANCE_FORWARD)
# The query parameters a statement request reads; any other is ignored.
PARAMETERS = ("type", "currency", "as_of", "month", "from", "to")

# The months a statement is offered for: the current one and this many before it.
MONTHS_OFFERED = 36

# Ledger entry types, in the order entries of one day are listed: what the customer was
# charged, then what reduced it, then what was given back.
INVOICE = "invoice"
INVOICE_VOID = "invoice_void"
CREDIT_NOTE = "credit_note"
CREDIT_NOTE_VOID = "credit_note_void"
PAYMENT = "payment"
REFUND = "refund"
ENTRY_ORDER = {
    INVOICE: 0,
    INVOICE_VOID: 1,
    CREDIT_NOTE: 2,
    CREDIT_NOTE_VOID: 3,
    PAYMENT: 4,
    REFUND: 5,
}

# Open-item rows: an invoice still owing, a credit note's unused part, money received beyond
# what its invoice owes (paid on an invoice voided later, or an overpayment).
ITEM_INVOICE = "invoice"
ITEM_CREDIT_NOTE = "credit_note"
ITEM_UNAPPLIED_PAYMENT = "unapplied_payment"

# Aging buckets by days past the due date: (key, first day, last day or None).
AGING_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("current", -(10**9), 0),
    ("1_30", 1, 30),
    ("31_60", 31, 60),
    ("61_90", 61, 90),
    ("over_90", 91, None),
)


class StatementRefused(ApplicationError):
    """A statement request we cannot answer: a malformed or out-of-range parameter (400)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__("invalid", message, field, 400)


# The ledger ---------------------------------------------------------------------------------


def voided_payments_reason(number: str) -> str:
    """The reason invoices.services.invoice_void gives the credit note that keeps what was paid
    on an invoice voided with ``payments="credit"`` (tests/statements hold the two together)."""
    return f"Paid on {number}, which was voided"


@dataclass(frozen=True)
class LedgerInvoice:
    id: int
    public_id: str
    number: str
    currency: str
    issue_date: dt.date
    due_date: dt.date
    total: int
    # The day its total leaves the ledger (never before the issue day); None while not void.
    void_date: dt.date | None


@dataclass(frozen=True)
class LedgerNote:
    id: int
    number: str
    currency: str
    amount: int
    issue_date: dt.date
    void_date: dt.date | None
    # The invoice whose money this note keeps (a payment's surplus kept as credit, or what was
    # paid on an invoice voided with its payments kept as credit): not new credit, the money
    # was counted when it was received; it moves from that invoice to the note.
    moved_from: int | None = None


@dataclass(frozen=True)
class Movement:
    """Money moving on an invoice's account: a payment (``amount`` > 0 settles), a refund
    (``amount`` < 0 unsettles) or a credit application (``until``: the day it was reversed)."""

    invoice_id: int
    currency: str
    day: dt.date
    amount: int
    note_id: int | None = None
    until: dt.date | None = None


@dataclass(frozen=True)
class Entry:
    """One line of a balance-forward statement: ``amount`` > 0 is a debit, < 0 a credit."""

    date: dt.date
    type: str
    number: str
    currency: str
    amount: int
    moment: dt.datetime | None = None

    @property
    def debit(self) -> int:
        return max(self.amount, 0)

    @property
    def credit(self) -> int:
        return max(-self.amount, 0)

    def sort_key(self) -> tuple[Any, ...]:
        moment = self.moment.timestamp() if self.moment is not None else 0.0
        return (self.date, ENTRY_ORDER[self.type], moment, self.number)


@dataclass
class Ledger:
    """Everything a customer's statements are made of, dated in the company's time zone."""

    company: Company
    customer: Customer
    invoices: dict[int, LedgerInvoice] = field(default_factory=dict)
    notes: dict[int, LedgerNote] = field(default_factory=dict)
    payments: list[Movement] = field(default_factory=list)
    applications: list[Movement] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)

    @property
    def currencies(self) -> list[str]:
        found = {invoice.currency for invoice in self.invoices.values()}
        found |= {note.currency for note in self.notes.values()}
        found |= {payment.currency for payment in self.payments}
        return sorted(found)

    def default_currency(self) -> str:
        currencies = self.currencies
        preferred = self.company.default_currency
        if preferred in currencies or not currencies:
            return preferred
        return currencies[0]


def customer_ledger(*, customer: Customer) -> Ledger:
    """The customer's whole ledger, every currency: five queries, whatever its size (invoices
    with their void day, credit notes, payments, refunds, credit applications)."""
    company = customer.company
    ledger = Ledger(company=company, customer=customer)

    def day(moment: dt.datetime) -> dt.date:
        return company_date(company, moment)

    surplus_notes: dict[int, int] = {}  # credit note id -> the invoice its payment was for
    voided_at = (
        InvoiceStatusChange.objects.filter(invoice=OuterRef("pk"), to_status=InvoiceStatus.VOID)
        .order_by("-changed_at")
        .values("changed_at")[:1]
    )
    issued = [status for status in CUSTOMER_VISIBLE_STATUSES if status != InvoiceStatus.DRAFT]
    for invoice_row in (
        Invoice.objects.filter(company_id=company.pk, customer=customer, status__in=issued)
        .annotate(voided_at=Subquery(voided_at))
        .values(
            "id",
            "public_id",
            "number",
            "currency",
            "issue_date",
            "due_date",
            "total",
            "status",
            "finalized_at",
            "voided_at",
        )
    ):
        void_date = None
        if invoice_row["status"] == InvoiceStatus.VOID:
            # Never before the issue day (a void of an invoice dated ahead); a void invoice
            # without its status-change row leaves on the day it came.
            moment = invoice_row["voided_at"]
            void_date = (
                max(day(moment), invoice_row["issue_date"]) if moment else invoice_row["issue_date"]
            )
        invoice = LedgerInvoice(
            id=invoice_row["id"],
            public_id=invoice_row["public_id"],
            number=invoice_row["number"],
            currency=invoice_row["currency"],
            issue_date=invoice_row["issue_date"],
            due_date=invoice_row["due_date"],
            total=invoice_row["total"],
            void_date=void_date,
        )
        ledger.invoices[invoice.id] = invoice
        ledger.entries.append(
            Entry(
                invoice.issue_date,
                INVOICE,
                invoice.number,
                invoice.currency,
                invoice.total,
                invoice_row["finalized_at"],
            )
        )
        if void_date is not None:
            ledger.entries.append(
                Entry(
                    void_date,
                    INVOICE_VOID,
                    invoice.number,
                    invoice.currency,
                    -invoice.total,
                    invoice_row["voided_at"],
                )
            )

    for payment_row in Payment.objects.filter(
        company_id=company.pk, invoice__customer=customer
    ).values(
        "invoice_id", "invoice__number", "amount", "currency", "paid_at", "surplus_credit_note_id"
    ):
        paid = day(payment_row["paid_at"])
        if payment_row["surplus_credit_note_id"] is not None:
            surplus_notes[payment_row["surplus_credit_note_id"]] = payment_row["invoice_id"]
        ledger.payments.append(
            Movement(
                payment_row["invoice_id"], payment_row["currency"], paid, payment_row["amount"]
            )
        )
        ledger.entries.append(
            Entry(
                paid,
                PAYMENT,
                payment_row["invoice__number"],
                payment_row["currency"],
                -payment_row["amount"],
                payment_row["paid_at"],
            )
        )

    for note_row in CreditNote.objects.filter(
        company_id=company.pk,
        customer=customer,
        status__in=(CreditNoteStatus.ISSUED, CreditNoteStatus.VOID),
        issued_at__isnull=False,
    ).values(
        "id",
        "number",
        "currency",
        "amount",
        "status",
        "issued_at",
        "voided_at",
        "invoice_id",
        "reason",
    ):
        issued_at = note_row["issued_at"]
        assert issued_at is not None  # filtered above
        issue_date = day(issued_at)
        void_date = None
        if note_row["status"] == CreditNoteStatus.VOID:
            void_date = (
                max(day(note_row["voided_at"]), issue_date) if note_row["voided_at"] else issue_date
            )
        moved_from = surplus_notes.get(note_row["id"])
        source = ledger.invoices.get(note_row["invoice_id"] or 0)
        if source is not None and note_row["reason"] == voided_payments_reason(source.number):
            moved_from = source.id
        note = LedgerNote(
            id=note_row["id"],
            number=note_row["number"],
            currency=note_row["currency"],
            amount=note_row["amount"],
            issue_date=issue_date,
            void_date=void_date,
            moved_from=moved_from,
        )
        ledger.notes[note.id] = note
        # Money moved into credit shows as a row of its own that changes nothing.
        ledger.entries.append(
            Entry(
                issue_date,
                CREDIT_NOTE,
                note.number,
                note.currency,
                0 if moved_from is not None else -note.amount,
                note_row["issued_at"],
            )
        )
        if void_date is not None:
            ledger.entries.append(
                Entry(
                    void_date,
                    CREDIT_NOTE_VOID,
                    note.number,
                    note.currency,
                    note.amount,
                    note_row["voided_at"],
                )
            )

    for refund_row in Refund.objects.filter(
        company_id=company.pk, payment__invoice__customer=customer
    ).values(
        "payment__invoice_id", "payment__invoice__number", "amount", "currency", "refunded_at"
    ):
        refunded = day(refund_row["refunded_at"])
        ledger.payments.append(
            Movement(
                refund_row["payment__invoice_id"],
                refund_row["currency"],
                refunded,
                -refund_row["amount"],
            )
        )
        ledger.entries.append(
            Entry(
                refunded,
                REFUND,
                refund_row["payment__invoice__number"],
                refund_row["currency"],
                refund_row["amount"],
                refund_row["refunded_at"],
            )
        )

    for application_row in CreditApplication.objects.filter(
        company_id=company.pk, credit_note__customer=customer
    ).values(
        "invoice_id",
        "credit_note_id",
        "credit_note__currency",
        "amount",
        "applied_at",
        "reversed_at",
    ):
        ledger.applications.append(
            Movement(
                invoice_id=application_row["invoice_id"],
                currency=application_row["credit_note__currency"],
                day=day(application_row["applied_at"]),
                amount=application_row["amount"],
                note_id=application_row["credit_note_id"],
                until=day(application_row["reversed_at"])
                if application_row["reversed_at"]
                else None,
            )
        )
    ledger.entries.sort(key=Entry.sort_key)
    return ledger


# Open item -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenItem:
    """One row of an open-item statement. ``due`` > 0 is owed; credit rows have ``due`` < 0."""

    kind: str
    date: dt.date
    number: str
    due_date: dt.date | None
    days_overdue: int
    total: int
    settled: int  # paid and credited on or before the statement's day
    due: int


@dataclass(frozen=True)
class Aging:
    """What is owed by days past the due date (credit rows are not aged). Minor units."""

    current: int = 0
    days_1_30: int = 0
    days_31_60: int = 0
    days_61_90: int = 0
    over_90: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "current": self.current,
            "1_30": self.days_1_30,
            "31_60": self.days_31_60,
            "61_90": self.days_61_90,
            "over_90": self.over_90,
        }


@dataclass(frozen=True)
class OpenItemStatement:
    currency: str
    as_of: dt.date
    rows: list[OpenItem]
    aging: Aging

    @property
    def owed(self) -> int:
        return sum(row.due for row in self.rows if row.due > 0)

    @property
    def credit(self) -> int:
        return -sum(row.due for row in self.rows if row.due < 0)

    @property
    def total(self) -> int:
        return sum(row.due for row in self.rows)


def _aging(rows: list[OpenItem]) -> Aging:
    buckets: dict[str, int] = defaultdict(int)
    for row in rows:
        if row.due <= 0:
            continue
        for key, first, last in AGING_BUCKETS:
            if row.days_overdue >= first and (last is None or row.days_overdue <= last):
                buckets[key] += row.due
                break
    return Aging(
        current=buckets["current"],
        days_1_30=buckets["1_30"],
        days_31_60=buckets["31_60"],
        days_61_90=buckets["61_90"],
        over_90=buckets["over_90"],
    )


def open_item_statement(*, ledger: Ledger, currency: str, as_of: dt.date) -> OpenItemStatement:
    """What the customer owed on ``as_of`` invoice by invoice, and the credit they had left:
    only what is dated on or before ``as_of`` counts, so the statement of a past day never
    changes (a later payment, refund, credit or void does not reach back)."""
    settled: dict[int, int] = defaultdict(int)  # paid net of refunds, and credit applied
    received: dict[int, int] = defaultdict(int)  # paid net of refunds, for money on a void
    last_received: dict[int, dt.date] = {}
    for movement in ledger.payments:
        if movement.currency == currency and movement.day <= as_of:
            settled[movement.invoice_id] += movement.amount
            received[movement.invoice_id] += movement.amount
            last_received[movement.invoice_id] = max(
                movement.day, last_received.get(movement.invoice_id, movement.day)
            )
    for note in ledger.notes.values():
        if note.moved_from is not None and note.currency == currency and note.issue_date <= as_of:
            settled[note.moved_from] -= note.amount
            received[note.moved_from] -= note.amount
    used: dict[int, int] = defaultdict(int)
    for application in ledger.applications:
        live = application.until is None or application.until > as_of
        if application.currency == currency and application.day <= as_of and live:
            settled[application.invoice_id] += application.amount
            assert application.note_id is not None
            used[application.note_id] += application.amount

    rows: list[OpenItem] = []
    for invoice_id in sorted(set(settled) | set(ledger.invoices)):
        invoice = ledger.invoices.get(invoice_id)
        counts = (
            invoice is not None
            and invoice.currency == currency
            and invoice.issue_date <= as_of
            and (invoice.void_date is None or invoice.void_date > as_of)
        )
        total = invoice.total if counts and invoice is not None else 0
        due = total - settled[invoice_id]
        number = invoice.number if invoice is not None else ""
        if due > 0 and invoice is not None:
            rows.append(
                OpenItem(
                    kind=ITEM_INVOICE,
                    date=invoice.issue_date,
                    number=number,
                    due_date=invoice.due_date,
                    days_overdue=max((as_of - invoice.due_date).days, 0),
                    total=total,
                    settled=settled[invoice_id],
                    due=due,
                )
            )
        elif due < 0:
            # Money received beyond what the invoice owes on that day: the customer's credit.
            last_day = last_received.get(invoice_id, as_of)
            rows.append(
                OpenItem(
                    kind=ITEM_UNAPPLIED_PAYMENT,
                    date=last_day,
                    number=number,
                    due_date=None,
                    days_overdue=0,
                    total=received[invoice_id],
                    settled=received[invoice_id] + due,
                    due=due,
                )
            )
    for note in ledger.notes.values():
        if note.currency != currency or note.issue_date > as_of:
            continue
        if note.void_date is not None and note.void_date <= as_of:
            continue
        remaining = note.amount - used[note.id]
        if remaining > 0:
            rows.append(
                OpenItem(
                    kind=ITEM_CREDIT_NOTE,
                    date=note.issue_date,
                    number=note.number,
                    due_date=None,
                    days_overdue=0,
                    total=note.amount,
                    settled=used[note.id],
                    due=-remaining,
                )
            )
    rows.sort(key=lambda row: (row.date, row.kind != ITEM_INVOICE, row.number))
    return OpenItemStatement(currency=currency, as_of=as_of, rows=rows, aging=_aging(rows))


# Balance forward -----------------------------------------------------------------------------


@dataclass(frozen=True)
class StatementLine:
    date: dt.date
    type: str
    number: str
    debit: int
    credit: int
    balance: int


@dataclass(frozen=True)
class BalanceForwardStatement:
    currency: str
    start: dt.date
    end: dt.date
    opening: int
    lines: list[StatementLine]
    invoiced: int  # invoices issued less invoices voided
    paid: int
    credited: int  # credit notes issued less credit notes voided
    refunded: int
    closing: int
    aging: Aging

    @property
    def debits(self) -> int:
        return sum(line.debit for line in self.lines)

    @property
    def credits(self) -> int:
        return sum(line.credit for line in self.lines)


def balance_forward_statement(
    *, ledger: Ledger, currency: str, start: dt.date, end: dt.date
) -> BalanceForwardStatement:
    """The balance before ``start``, every entry from ``start`` to ``end`` (both inclusive)
    with the running balance, the period's totals by kind, and the aging at ``end``."""
    opening = 0
    balance = 0
    lines: list[StatementLine] = []
    totals: dict[str, int] = defaultdict(int)
    for entry in ledger.entries:
        if entry.currency != currency or entry.date > end:
            continue
        if entry.date < start:
            opening += entry.amount
            balance = opening
            continue
        balance += entry.amount
        totals[entry.type] += entry.amount
        lines.append(
            StatementLine(entry.date, entry.type, entry.number, entry.debit, entry.credit, balance)
        )
    aging = open_item_statement(ledger=ledger, currency=currency, as_of=end).aging
    return BalanceForwardStatement(
        currency=currency,
        start=start,
        end=end,
        opening=opening,
        lines=lines,
        invoiced=totals[INVOICE] + totals[INVOICE_VOID],
        paid=-totals[PAYMENT],
        credited=-(totals[CREDIT_NOTE] + totals[CREDIT_NOTE_VOID]),
        refunded=totals[REFUND],
        closing=balance,
        aging=aging,
    )


# The request ---------------------------------------------------------------------------------

_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def month_start(day: dt.date, months_back: int = 0) -> dt.date:
    """The first day of the month ``months_back`` calendar months before ``day``'s."""
    index = day.year * 12 + (day.month - 1) - months_back
    return dt.date(index // 12, index % 12 + 1, 1)


def month_end(first: dt.date) -> dt.date:
    return month_start(first, -1) - dt.timedelta(days=1)


def months_offered(today: dt.date) -> list[dt.date]:
    """The first days of the current month and the MONTHS_OFFERED before it, newest first."""
    return [month_start(today, back) for back in range(MONTHS_OFFERED + 1)]


@dataclass(frozen=True)
class StatementRequest:
    """What to build: ``kind``, ``currency``; ``as_of`` for open item, ``start``/``end`` for
    balance forward (``month`` set when the period is one calendar month)."""

    kind: str
    currency: str
    as_of: dt.date
    start: dt.date
    end: dt.date
    month: dt.date | None

    def query(self) -> dict[str, str]:
        """The query parameters that ask for this statement again (links, the PDF, the CSV)."""
        params = {"type": self.kind, "currency": self.currency}
        if self.kind == OPEN_ITEM:
            params["as_of"] = self.as_of.isoformat()
        elif self.month is not None:
            params["month"] = self.month.strftime("%Y-%m")
        else:
            params["from"], params["to"] = self.start.isoformat(), self.end.isoformat()
        return params


def _date(params: Mapping[str, str], name: str, earliest: dt.date, today: dt.date) -> dt.date:
    text = params[name].strip()
    try:
        if not _DATE_RE.match(text):
            raise ValueError
        value = dt.date.fromisoformat(text)
    except ValueError:
        raise StatementRefused(f"{name} must be a date like 2026-03-31.", name) from None
    if value > today:
        raise StatementRefused(f"{name} cannot be after today ({today.isoformat()}).", name)
    if value < earliest:
        raise StatementRefused(
            f"{name} cannot be before {earliest.isoformat()}: statements cover the current "
            f"month and the {MONTHS_OFFERED} before it.",
            name,
        )
    return value


def _currency(params: Mapping[str, str], ledger: Ledger) -> str:
    allowed = ledger.currencies or [ledger.default_currency()]
    text = params.get("currency", "").strip()
    if not text:
        return ledger.default_currency()
    try:
        currency = normalize_currency(text)
    except (UnknownCurrency, ValueError, TypeError):
        raise StatementRefused("currency must be a currency code like usd.", "currency") from None
    if currency not in allowed:
        names = ", ".join(code.upper() for code in allowed)
        raise StatementRefused(
            f"There is no statement in {currency.upper()}; this customer's currencies: {names}.",
            "currency",
        )
    return currency


def statement_request(
    *, params: Mapping[str, str], ledger: Ledger, today: dt.date
) -> StatementRequest:
    """Read ``type``, ``currency``, ``as_of``, ``month``, ``from`` and ``to`` (others are
    ignored). Defaults: balance forward for the current month up to today, the company's
    currency when the customer has it. Raises StatementRefused with a message naming the
    parameter."""
    earliest = month_start(today, MONTHS_OFFERED)
    kind = params.get("type", "").strip() or BALANCE_FORWARD
    if kind not in KINDS:
        raise StatementRefused("type must be open_item or balance_forward.", "type")
    currency = _currency(params, ledger)
    as_of = _date(params, "as_of", earliest, today) if params.get("as_of") else today
    month: dt.date | None = None
    has_range = bool(params.get("from") or params.get("to"))
    if params.get("month"):
        if has_range:
            raise StatementRefused("Give either month or from/to, not both.", "month")
        match = _MONTH_RE.match(params["month"].strip())
        first = None
        if match and 1 <= int(match.group(2)) <= 12:
            first = dt.date(int(match.group(1)), int(match.group(2)), 1)
        if first is None:
            raise StatementRefused("month must be a month like 2026-03.", "month")
        if first not in months_offered(today):
            raise StatementRefused(
                f"month must be between {earliest.strftime('%Y-%m')} and "
                f"{today.strftime('%Y-%m')}.",
                "month",
            )
        month = first
    if month is not None:
        start, end = month, min(month_end(month), today)
    elif has_range:
        end = _date(params, "to", earliest, today) if params.get("to") else today
        start = _date(params, "from", earliest, today) if params.get("from") else month_start(end)
        if start > end:
            raise StatementRefused("from must be on or before to.", "from")
    else:
        month = month_start(today)
        start, end = month, today
    return StatementRequest(
        kind=kind, currency=currency, as_of=as_of, start=start, end=end, month=month
    )


Statement = OpenItemStatement | BalanceForwardStatement


def statement_build(*, ledger: Ledger, request: StatementRequest) -> Statement:
    if request.kind == OPEN_ITEM:
        return open_item_statement(ledger=ledger, currency=request.currency, as_of=request.as_of)
    return balance_forward_statement(
        ledger=ledger, currency=request.currency, start=request.start, end=request.end
    )
