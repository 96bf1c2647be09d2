"""A statement as a customer reads it: the page, the PDF, the CSV and the email attachment.

Like ``invoices.document`` for invoices: every amount, date and label is formatted once here
(``format_money``, Babel dates, the active translation), so the partial
``templates/statements/_statement.html`` that both the page and the PDF include holds no
logic, and the CSV carries the very rows the page shows. The PDF is cached under a fingerprint
of what it shows (:func:`statement_fingerprint`).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
from dataclasses import dataclass
from typing import Any

from babel.dates import format_date
from django.core.cache import cache
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from core.fragments import cached_html
from invoices.document import (
    TEMPLATE_VERSION,
    brand_color,
    company_party,
    customer_party,
    date_display,
    sources_digest,
    translations_digest,
)
from invoices.models import Company, Customer
from invoices.money import format_money, to_major
from invoices.pdf.html import page_footer
from invoices.pdf.render import render_pdf
from payments import statements

# How long a rendered statement (PDF, or the page's table) stays cached; its key changes
# whenever what it shows does.
PDF_CACHE_SECONDS = 24 * 3600
HTML_CACHE_SECONDS = 24 * 3600
# The statement itself, shared by the portal page, the admin and the PDF.
STATEMENT_PARTIAL = "statements/_statement.html"


def _type_labels() -> dict[str, str]:
    return {
        statements.INVOICE: _("Invoice"),
        statements.INVOICE_VOID: _("Invoice voided"),
        statements.CREDIT_NOTE: _("Credit note"),
        statements.CREDIT_NOTE_VOID: _("Credit note voided"),
        statements.PAYMENT: _("Payment"),
        statements.REFUND: _("Refund"),
        statements.ITEM_UNAPPLIED_PAYMENT: _("Unapplied payment"),
    }


def _aging_labels() -> list[tuple[str, str]]:
    return [
        ("current", _("Current")),
        ("1_30", _("1\u201330 days")),
        ("31_60", _("31\u201360 days")),
        ("61_90", _("61\u201390 days")),
        ("over_90", _("Over 90 days")),
    ]


@dataclass(frozen=True)
class Cell:
    """A table cell: ``text`` as shown, ``label`` its column (stacked layout on phones)."""

    text: str
    label: str
    numeric: bool = False


@dataclass(frozen=True)
class Figure:
    label: str
    value: str


@dataclass(frozen=True)
class Choice:
    value: str
    label: str
    selected: bool


@dataclass(frozen=True)
class StatementView:
    """What the partial shows. ``columns`` and each row's cells are in the same order."""

    kind: str
    title: str
    period: str
    currency: str
    seller: Any
    customer: Any
    columns: list[Cell]
    rows: list[list[Cell]]
    opening: str  # "" for open item
    closing: str
    closing_label: str
    summary: list[Figure]
    aging: list[Figure]
    brand_color: str
    generated: str
    empty_text: str


def _headers(columns: list[str], numeric: list[bool]) -> list[Cell]:
    return [
        Cell(column, column, is_number) for column, is_number in zip(columns, numeric, strict=True)
    ]


def _money(amount: int, currency: str, locale: str) -> str:
    return format_money(amount, currency, locale)


def statement_view(
    *,
    company: Company,
    customer: Customer,
    statement: statements.Statement,
    locale: str,
    today: dt.date,
) -> StatementView:
    """The statement formatted in ``locale`` (call under the matching active translation)."""
    currency = statement.currency
    types = _type_labels()

    def money(amount: int) -> str:
        return _money(amount, currency, locale)

    aging = [
        Figure(label, money(value))
        for (key, label), value in zip(
            _aging_labels(), statement.aging.as_dict().values(), strict=True
        )
    ]
    if isinstance(statement, statements.OpenItemStatement):
        columns = [
            _("Date"),
            _("Number"),
            _("Due date"),
            _("Days overdue"),
            _("Total"),
            _("Paid or credited"),
            _("Due"),
        ]
        numeric = [False, False, False, True, True, True, True]
        rows = []
        for item in statement.rows:
            number = item.number
            if item.kind != statements.ITEM_INVOICE:
                number = f"{types.get(item.kind, _('Credit note'))} {item.number}".strip()
            values = [
                date_display(item.date, locale),
                number,
                date_display(item.due_date, locale),
                str(item.days_overdue) if item.days_overdue else "",
                money(item.total),
                money(item.settled),
                money(item.due),
            ]
            rows.append(
                [
                    Cell(value, column, is_number)
                    for value, column, is_number in zip(values, columns, numeric, strict=True)
                ]
            )
        return StatementView(
            kind=statement_kind_label(statements.OPEN_ITEM),
            title=_("Statement of open items"),
            period=_("As of %(date)s") % {"date": date_display(statement.as_of, locale)},
            currency=currency.upper(),
            seller=company_party(company),
            customer=customer_party(customer),
            columns=_headers(columns, numeric),
            rows=rows,
            opening="",
            closing=money(statement.total),
            closing_label=_("Total due"),
            summary=[
                Figure(_("Owed"), money(statement.owed)),
                Figure(_("Credit available"), money(statement.credit)),
                Figure(_("Total due"), money(statement.total)),
            ],
            aging=aging,
            brand_color=brand_color(company),
            generated=date_display(today, locale),
            empty_text=_("Nothing was open on this day."),
        )
    columns = [_("Date"), _("Type"), _("Number"), _("Debit"), _("Credit"), _("Balance")]
    numeric = [False, False, False, True, True, True]
    rows = []
    for line in statement.lines:
        values = [
            date_display(line.date, locale),
            types[line.type],
            line.number,
            money(line.debit) if line.debit else "",
            money(line.credit) if line.credit else "",
            money(line.balance),
        ]
        rows.append(
            [
                Cell(value, column, is_number)
                for value, column, is_number in zip(values, columns, numeric, strict=True)
            ]
        )
    period = _("%(start)s to %(end)s") % {
        "start": date_display(statement.start, locale),
        "end": date_display(statement.end, locale),
    }
    return StatementView(
        kind=statement_kind_label(statements.BALANCE_FORWARD),
        title=_("Statement of account"),
        period=period,
        currency=currency.upper(),
        seller=company_party(company),
        customer=customer_party(customer),
        columns=_headers(columns, numeric),
        rows=rows,
        opening=money(statement.opening),
        closing=money(statement.closing),
        closing_label=_("Closing balance"),
        summary=[
            Figure(_("Opening balance"), money(statement.opening)),
            Figure(_("Invoiced"), money(statement.invoiced)),
            Figure(_("Paid"), money(statement.paid)),
            Figure(_("Credited"), money(statement.credited)),
            Figure(_("Refunded"), money(statement.refunded)),
            Figure(_("Closing balance"), money(statement.closing)),
        ],
        aging=aging,
        brand_color=brand_color(company),
        generated=date_display(today, locale),
        empty_text=_("Nothing happened on the account in this period."),
    )


def statement_kind_label(kind: str) -> str:
    if kind == statements.OPEN_ITEM:
        return _("Open items")
    return _("Balance forward")


def month_choices(*, today: dt.date, selected: dt.date | None, locale: str) -> list[Choice]:
    """The current month and the 36 before it, newest first, named in ``locale``."""
    return [
        Choice(
            first.strftime("%Y-%m"),
            format_date(first, format="LLLL y", locale=locale),
            first == selected,
        )
        for first in statements.months_offered(today)
    ]


def currency_choices(*, ledger: statements.Ledger, selected: str) -> list[Choice]:
    return [Choice(code, code.upper(), code == selected) for code in ledger.currencies]


def statement_filename(request: statements.StatementRequest, extension: str) -> str:
    if request.kind == statements.OPEN_ITEM:
        period = request.as_of.isoformat()
    elif request.month is not None:
        period = request.month.strftime("%Y-%m")
    else:
        period = f"{request.start.isoformat()}_{request.end.isoformat()}"
    return f"statement-{request.currency}-{period}.{extension}"


# CSV ----------------------------------------------------------------------------------------

_NUMBER_RE = re.compile(r"^-?\d+(\.\d+)?$")
_FORMULA_STARTS = ("=", "+", "-", "@")


def _safe_cell(value: str) -> str:
    """A cell a spreadsheet will not run: text beginning with = + - @ (other than a number)
    is prefixed with an apostrophe."""
    if value.startswith(_FORMULA_STARTS) and not _NUMBER_RE.match(value):
        return "'" + value
    return value


def _major(amount: int, currency: str) -> str:
    return format(to_major(amount, currency), "f")


def statement_csv(*, statement: statements.Statement) -> str:
    """The statement's rows as CSV (the caller adds the BOM): amounts in major units with the
    currency's decimals, dates ISO. Balance forward opens with the opening balance and ends
    with the closing balance; open item lists the invoices and the unused credit."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    currency = statement.currency
    if isinstance(statement, statements.OpenItemStatement):
        writer.writerow(
            [
                "date",
                "type",
                "number",
                "due_date",
                "days_overdue",
                "currency",
                "total",
                "paid_or_credited",
                "amount_due",
            ]
        )
        for item in statement.rows:
            writer.writerow(
                [
                    item.date.isoformat(),
                    item.kind,
                    _safe_cell(item.number),
                    item.due_date.isoformat() if item.due_date else "",
                    item.days_overdue,
                    currency,
                    _major(item.total, currency),
                    _major(item.settled, currency),
                    _major(item.due, currency),
                ]
            )
        writer.writerow(
            [
                statement.as_of.isoformat(),
                "total",
                "",
                "",
                "",
                currency,
                "",
                "",
                _major(statement.total, currency),
            ]
        )
        return buffer.getvalue()
    writer.writerow(["date", "type", "number", "currency", "debit", "credit", "balance"])
    writer.writerow(
        [
            statement.start.isoformat(),
            "opening_balance",
            "",
            currency,
            "",
            "",
            _major(statement.opening, currency),
        ]
    )
    for line in statement.lines:
        writer.writerow(
            [
                line.date.isoformat(),
                line.type,
                _safe_cell(line.number),
                currency,
                _major(line.debit, currency) if line.debit else "",
                _major(line.credit, currency) if line.credit else "",
                _major(line.balance, currency),
            ]
        )
    writer.writerow(
        [
            statement.end.isoformat(),
            "closing_balance",
            "",
            currency,
            "",
            "",
            _major(statement.closing, currency),
        ]
    )
    return buffer.getvalue()


# PDF ----------------------------------------------------------------------------------------

PDF_TEMPLATE = "pdf/statement.html"


def statement_fingerprint(
    *,
    company: Company,
    customer: Customer,
    statement: statements.Statement,
    language: str,
    today: dt.date,
) -> str:
    """A hex SHA-256 naming one rendering of a statement: its rows and totals, the parties,
    the brand, the language and its translations, the templates. Equal inputs, equal PDF."""
    payload = {
        # Every row and total (frozen dataclasses of numbers, dates and text, whose repr is
        # exact and many times cheaper than dataclasses.asdict on thousands of rows).
        "statement": repr(statement),
        "kind": type(statement).__name__,
        "seller": [company.name, company.email, company.address, company.tax_id],
        "logo": company.logo.name if company.logo else "",
        "brand": brand_color(company),
        "customer": [customer.public_id, customer.name, customer.email, *customer.address_lines],
        "customer_tax": [customer.tax_id, customer.buyer_reference],
        "today": today,
        "language": language,
        "translations": translations_digest(language),
        "template_version": TEMPLATE_VERSION,
        "sources": sources_digest("statement"),
    }
    encoded = json.dumps(payload, ensure_ascii=False, default=str, sort_keys=True)
    return hashlib.sha256(encoded.encode()).hexdigest()


def statement_html(
    *,
    company: Company,
    customer: Customer,
    statement: statements.Statement,
    language: str,
    today: dt.date,
) -> SafeString:
    """The statement's table as HTML (the portal page's and the admin's), rendered once per
    fingerprint: 36 months are thousands of cells, and the page is asked for again and again."""
    fingerprint = statement_fingerprint(
        company=company, customer=customer, statement=statement, language=language, today=today
    )

    def render() -> str:
        with translation.override(language):
            view = statement_view(
                company=company,
                customer=customer,
                statement=statement,
                locale=language,
                today=today,
            )
            return render_to_string(STATEMENT_PARTIAL, {"statement": view})

    return cached_html(f"statement-html:{fingerprint}", render, HTML_CACHE_SECONDS)


def statement_pdf_html(
    *,
    company: Company,
    customer: Customer,
    statement: statements.Statement,
    language: str,
    today: dt.date,
) -> str:
    with translation.override(language):
        view = statement_view(
            company=company, customer=customer, statement=statement, locale=language, today=today
        )
        context = {
            "statement": view,
            "language": language,
            # Built from a translation and escaped for CSS above, not user input.
            "page_footer": mark_safe(page_footer()),  # noqa: S308
        }
        return render_to_string(PDF_TEMPLATE, context)


def statement_pdf(
    *,
    company: Company,
    customer: Customer,
    statement: statements.Statement,
    language: str,
    today: dt.date,
) -> bytes:
    """The statement as an A4 PDF, from the cache when this very rendering was made before."""
    fingerprint = statement_fingerprint(
        company=company, customer=customer, statement=statement, language=language, today=today
    )
    key = f"statement-pdf:{fingerprint}"
    cached = cache.get(key)
    if isinstance(cached, bytes):
        return cached
    html = statement_pdf_html(
        company=company, customer=customer, statement=statement, language=language, today=today
    )
    pdf = render_pdf(html)
    cache.set(key, pdf, PDF_CACHE_SECONDS)
    return pdf


def statement_subject(company: Company) -> str:
    return _("Statement of account from %(company)s") % {"company": company.name}
