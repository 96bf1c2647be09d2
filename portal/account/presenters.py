"""What the account pages show: rows and cards formatted for the page's language (amounts
through Babel, dates as the customer reads them), built from the account selectors."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext as _

from invoices.document import StatusBadge, date_display, invoice_status_badge
from invoices.models import Company, CreditNote, Customer, Invoice
from invoices.models.credit_note import CreditNoteStatus
from invoices.money import format_money
from invoices.services import share_link_token, share_links_for_portal
from invoices.timezones import company_date
from payments.gates import pay_gate
from payments.models import OverpaymentHandling, Payment, PaymentMethod, PaymentStatus
from portal.account.selectors import CurrencyAccount


def invoice_url(token: str, locale: str) -> str:
    # ?source=portal: view tracking counts portal visits apart; the language travels along.
    return f"{reverse('invoice_page', args=[token])}?source=portal&lang={locale}"


def _own(invoices: list[Invoice], company: Company, customer: Customer) -> None:
    # The rows belong to the portal's customer and company by the query: reuse the loaded
    # objects instead of one query per row (pay_gate reads invoice.company.plan).
    for invoice in invoices:
        invoice.company = company
        invoice.customer = customer


@dataclass(frozen=True)
class InvoiceRow:
    number: str
    issue_date: str
    due_date: str
    status: StatusBadge
    total: str
    amount_due: str
    url: str
    invoice: Invoice
    # Whether it can be paid online now (a checkbox of "Pay selected").
    payable: bool


def invoice_rows(
    *,
    invoices: list[Invoice],
    company: Company,
    customer: Customer,
    locale: str,
    today: dt.date,
    connected: bool,
) -> list[InvoiceRow]:
    """The list's rows. One query for the rows' share links (plus an insert on a first visit),
    whatever their number."""
    _own(invoices, company, customer)
    links = share_links_for_portal(invoices=invoices)
    return [
        InvoiceRow(
            number=invoice.number,
            issue_date=date_display(invoice.issue_date, locale),
            due_date=date_display(invoice.due_date, locale),
            status=invoice_status_badge(invoice, today=today),
            total=format_money(invoice.total, invoice.currency, locale),
            amount_due=format_money(invoice.amount_due, invoice.currency, locale),
            url=invoice_url(share_link_token(links[invoice.pk]), locale),
            invoice=invoice,
            payable=pay_gate(invoice=invoice, connected=connected).allowed,
        )
        for invoice in invoices
    ]


# The home's cards ----------------------------------------------------------------------------


@dataclass(frozen=True)
class AgingCell:
    label: str
    amount: str
    has_amount: bool


@dataclass(frozen=True)
class CurrencyCards:
    currency: str  # lower-case ISO code
    code: str  # upper-case, for headings
    outstanding: str
    due_now: str
    overdue: str
    overdue_count: int
    not_yet_due: str
    aging: list[AgingCell]
    credit_available: str
    # "Pay everything due" uses the credit first when there is some.
    has_credit: bool
    last_payment_amount: str
    last_payment_date: str
    has_due_now: bool
    # "Pay everything due": the invoices that can be paid now, oldest due date first.
    payable: list[str]


def aging_labels() -> dict[str, str]:
    return {
        "current": _("Current"),
        "1_30": _("1–30 days"),  # noqa: RUF001 (a range)
        "31_60": _("31–60 days"),  # noqa: RUF001
        "61_90": _("61–90 days"),  # noqa: RUF001
        "over_90": _("Over 90 days"),
    }


def currency_cards(
    *, accounts: list[CurrencyAccount], company: Company, locale: str
) -> list[CurrencyCards]:
    labels = aging_labels()
    cards = []
    for account in accounts:
        currency = account.currency

        def money(amount: int, currency: str = currency) -> str:
            return format_money(amount, currency, locale)

        last = account.last_payment
        cards.append(
            CurrencyCards(
                currency=currency,
                code=currency.upper(),
                outstanding=money(account.outstanding),
                due_now=money(account.due_now),
                overdue=money(account.overdue),
                overdue_count=account.overdue_count,
                not_yet_due=money(account.not_yet_due),
                aging=[
                    AgingCell(
                        label, money(account.aging.get(key, 0)), account.aging.get(key, 0) > 0
                    )
                    for key, label in labels.items()
                ],
                credit_available=money(account.credit_available),
                has_credit=account.credit_available > 0,
                last_payment_amount=money(last.amount) if last else "",
                last_payment_date=(
                    date_display(company_date(company, last.paid_at), locale) if last else ""
                ),
                has_due_now=account.due_now > 0,
                payable=account.payable,
            )
        )
    return cards


@dataclass(frozen=True)
class AccountBalances:
    """The home's balance summary beside the cards: formatted amounts, one per currency."""

    outstanding: list[str]  # empty: nothing outstanding
    credit: list[str]  # never empty: no credit reads as a zero in the company's currency
    has_overdue: bool


def account_balances(
    *, accounts: list[CurrencyAccount], company: Company, locale: str
) -> AccountBalances:
    return AccountBalances(
        outstanding=[
            format_money(account.outstanding, account.currency, locale)
            for account in accounts
            if account.outstanding > 0
        ],
        credit=[
            format_money(account.credit_available, account.currency, locale)
            for account in accounts
            if account.credit_available > 0
        ]
        or [format_money(0, company.default_currency, locale)],
        has_overdue=any(account.overdue_count for account in accounts),
    )


# Payments and credit notes -------------------------------------------------------------------


def _method_label(method: str) -> str:
    if method in (PaymentMethod.CHECKOUT, PaymentMethod.CARD):
        return _("Card (online)")
    return str(PaymentMethod(method).label)


@dataclass(frozen=True)
class PaymentRow:
    public_id: str
    date: str
    amount: str
    method: str
    reference: str
    status: str  # "" when simply received
    invoice_number: str
    invoice_url: str
    applied: str  # the part of the payment that went to the invoice
    surplus: str  # beyond what the invoice owed ("" when none)
    surplus_note: str
    refunded: str  # "" when nothing was refunded
    receipt_url: str


def payment_rows(
    *, payments: list[Payment], company: Company, customer: Customer, token: str, locale: str
) -> list[PaymentRow]:
    """The payments list's rows. One query for the invoices' share links."""
    invoices = [payment.invoice for payment in payments]
    _own(invoices, company, customer)
    links = share_links_for_portal(invoices=invoices)
    rows = []
    for payment in payments:
        currency = payment.currency
        status = ""
        if payment.status == PaymentStatus.REFUNDED:
            status = _("Refunded")
        elif payment.status == PaymentStatus.PARTIALLY_REFUNDED:
            status = _("Partially refunded")
        surplus_note = ""
        if payment.surplus > 0:
            surplus_note = (
                _("kept as credit")
                if payment.surplus_handling == OverpaymentHandling.CREDIT
                else _("refunded")
            )
        link = links.get(payment.invoice_id)
        rows.append(
            PaymentRow(
                public_id=payment.public_id,
                date=date_display(company_date(company, payment.paid_at), locale),
                amount=format_money(payment.amount, currency, locale),
                method=_method_label(payment.method),
                reference=payment.reference,
                status=status,
                invoice_number=payment.invoice.number,
                invoice_url=invoice_url(share_link_token(link), locale) if link else "",
                applied=format_money(payment.amount - payment.surplus, currency, locale),
                surplus=format_money(payment.surplus, currency, locale) if payment.surplus else "",
                surplus_note=surplus_note,
                refunded=(
                    format_money(payment.amount_refunded, currency, locale)
                    if payment.amount_refunded
                    else ""
                ),
                receipt_url=(
                    reverse("portal_payment_receipt", args=[token, payment.public_id])
                    + f"?lang={locale}"
                ),
            )
        )
    return rows


@dataclass(frozen=True)
class CreditNoteRow:
    number: str
    date: str
    status: StatusBadge
    amount: str
    applied: str
    remaining: str
    reason: str
    invoice_number: str


def credit_note_rows(
    *, notes: list[CreditNote], company: Company, locale: str
) -> list[CreditNoteRow]:
    rows = []
    for note in notes:
        currency = note.currency
        void = note.status == CreditNoteStatus.VOID
        issued = note.issued_at or note.created_at
        rows.append(
            CreditNoteRow(
                number=note.number,
                date=date_display(company_date(company, issued), locale),
                status=(
                    StatusBadge("void", _("Void")) if void else StatusBadge("open", _("Issued"))
                ),
                amount=format_money(note.amount, currency, locale),
                applied=format_money(note.amount_applied, currency, locale),
                remaining=format_money(0 if void else note.remaining, currency, locale),
                reason=note.reason,
                invoice_number=note.invoice.number if note.invoice else "",
            )
        )
    return rows
