"""The invoice as a document: what a customer reads about an invoice, wherever they read it.

The page, the PDF, the embed and the emails all build an :class:`InvoiceDocument` here (the
context variable ``doc`` of the partials in ``templates/invoices/partials/``), so what a
customer reads on screen, on paper and in the frame cannot drift apart. Every amount and date
is formatted once, here, in Python (Babel through ``invoices.money.format_money`` and
``babel.dates``), so templates stay free of logic.

:func:`document_fingerprint` names one rendering of a document: the page cache and the stored
PDF both key on it, so a change to anything that shows (an amount, a payment, the status as
the customer reads it, a line of a draft, a party, the brand, the language, a template or a
translation) misses both at once.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from babel.dates import format_date
from babel.numbers import format_decimal, format_percent
from django.conf import settings
from django.utils.translation import gettext as _

from invoices.models import Company, Customer, Invoice, InvoiceStatus, LineItem
from invoices.money import format_money
from invoices.selectors import LINE_FIELDS, document_lines, is_overdue

logger = logging.getLogger(__name__)

DEFAULT_BRAND_COLOR = "#1d4ed8"
_COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")


def brand_color(company: Company) -> str:
    """The company colour, safe to put into a stylesheet (the model validator runs on forms
    only, and this value lands inside a <style> element)."""
    color = company.brand_color or ""
    return color if _COLOR_RE.match(color) else DEFAULT_BRAND_COLOR


# Babel takes ~50 µs a date; lists show the same few days again and again.
@functools.lru_cache(maxsize=4096)
def date_display(value: dt.date | None, locale: str) -> str:
    return format_date(value, format="medium", locale=locale) if value else ""


def quantity_display(quantity: Decimal, locale: str) -> str:
    # Stored with three decimals; "2", "1,5" read better than "2,000", "1,500".
    return format_decimal(Decimal(quantity).normalize(), locale=locale)


def tax_rate_display(rate: Decimal, locale: str) -> str:
    return format_percent(Decimal(rate) / 100, locale=locale, decimal_quantization=False)


@dataclass(frozen=True)
class Party:
    """The seller or the bill-to block."""

    name: str
    email: str = ""
    address_lines: list[str] = field(default_factory=list)
    tax_id: str = ""
    buyer_reference: str = ""
    logo_url: str = ""
    # Absolute file path of the logo, for the PDF renderer (which reads files, not URLs).
    logo_path: str = ""


@dataclass(frozen=True)
class LineRow:
    description: str
    quantity: str
    unit_price: str
    tax_rate: str
    tax: str
    # Net amount plus its tax, so the line totals add up to the invoice total.
    total: str


@dataclass(frozen=True)
class StatusBadge:
    # One of: paid, partly_paid, overdue, open, void, uncollectible (a CSS class suffix).
    key: str
    label: str


@dataclass(frozen=True)
class InvoiceDocument:
    """Everything the document partials show. All money and dates are display strings."""

    locale: str
    currency: str
    brand_color: str
    seller: Party
    bill_to: Party
    number: str
    status: StatusBadge
    issue_date: str
    due_date: str
    lines: list[LineRow]
    subtotal: str
    tax: str
    total: str
    paid: str
    amount_due: str
    has_payments: bool
    notes: str
    is_void: bool


def invoice_status_badge(invoice: Invoice, *, today: dt.date | None = None) -> StatusBadge:
    """The status as a customer reads it: overdue and partly paid are said plainly."""
    if invoice.status == InvoiceStatus.PAID:
        return StatusBadge("paid", _("Paid"))
    if invoice.status == InvoiceStatus.VOID:
        return StatusBadge("void", _("Void"))
    if invoice.status == InvoiceStatus.UNCOLLECTIBLE:
        return StatusBadge("uncollectible", _("Uncollectible"))
    if is_overdue(invoice, today):
        return StatusBadge("overdue", _("Overdue"))
    if invoice.is_partly_paid:
        return StatusBadge("partly_paid", _("Partly paid"))
    return StatusBadge("open", _("Open"))


# Logos are inlined as data: URIs (the CSP allows img-src data:): nothing serves MEDIA_ROOT to
# customers, and the page (cached) and the PDF then need no second request. Larger files keep
# their media URL.
LOGO_INLINE_MAX_BYTES = 200_000
_LOGO_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
}


def logo_src(company: Company) -> str:
    """The logo as a data: URI (or its media URL when large or of an unknown type); "" if none."""
    if not company.logo:
        return ""
    mime = _LOGO_TYPES.get(Path(company.logo.name or "").suffix.lower())
    try:
        if mime is not None and company.logo.size <= LOGO_INLINE_MAX_BYTES:
            with company.logo.open("rb") as file:
                data = file.read()
            return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
        return str(company.logo.url)
    except OSError:  # the file is gone from storage: show no logo rather than fail the page
        logger.warning("logo of company %s unreadable", company.pk, exc_info=True)
        return ""


def company_address_lines(company: Company) -> list[str]:
    """The seller's address as printed: the free text when set, else the structured fields."""
    lines = [line for line in company.address.splitlines() if line.strip()]
    if lines:
        return lines
    city_line = " ".join(part for part in (company.postcode, company.city) if part)
    return [part for part in (company.street, city_line, company.country_code) if part]


def company_party(company: Company) -> Party:
    logo_path = ""
    if company.logo:
        try:
            logo_path = company.logo.path
        except NotImplementedError:  # a storage without local files
            logo_path = ""
    return Party(
        name=company.name,
        email=company.email,
        address_lines=company_address_lines(company),
        tax_id=company.vat_id or company.tax_id,
        logo_url=logo_src(company),
        logo_path=logo_path,
    )


def customer_party(customer: Customer) -> Party:
    return Party(
        name=customer.name,
        email=customer.email,
        address_lines=customer.address_lines,
        tax_id=customer.tax_id,
        buyer_reference=customer.buyer_reference,
    )


# Issued documents never change: at finalization an invoice keeps what it shows of both
# parties (invoices.services.invoice_transition stores these), and everything a customer
# reads of an issued invoice (page, PDF, exports, the fingerprint) comes from them.


def buyer_snapshot(customer: Customer) -> dict[str, Any]:
    return {
        "name": customer.name,
        "email": customer.email,
        "address_lines": customer.address_lines,
        "tax_id": customer.tax_id,
        "buyer_reference": customer.buyer_reference,
        # The structured parts, for e-invoices (invoices.einvoice).
        "address_line1": customer.address_line1,
        "address_line2": customer.address_line2,
        "postal_code": customer.postal_code,
        "city": customer.city,
        "region": customer.region,
        "country": customer.country,
        "electronic_address": customer.electronic_address,
        "electronic_address_scheme": customer.electronic_address_scheme,
    }


def seller_snapshot(company: Company) -> dict[str, Any]:
    return {
        "name": company.name,
        "email": company.email,
        "address_lines": company_address_lines(company),
        "tax_id": company.vat_id or company.tax_id,
        # The structured parts, for e-invoices (invoices.einvoice).
        "street": company.street,
        "postcode": company.postcode,
        "city": company.city,
        "country_code": company.country_code,
        "vat_id": company.vat_id,
        "tax_registration": company.tax_id,
        "phone": company.phone,
        "electronic_address": company.electronic_address,
        "electronic_address_scheme": company.electronic_address_scheme,
    }


def invoice_bill_to(invoice: Invoice) -> Party:
    """The buyer as the invoice shows it: the snapshot once issued, the customer on a draft."""
    snap = invoice.buyer_snapshot
    if not snap:
        return customer_party(invoice.customer)
    return Party(
        name=str(snap.get("name", "")),
        email=str(snap.get("email", "")),
        address_lines=[str(line) for line in snap.get("address_lines", [])],
        tax_id=str(snap.get("tax_id", "")),
        buyer_reference=str(snap.get("buyer_reference", "")),
    )


def invoice_seller(invoice: Invoice) -> Party:
    """The seller as the invoice shows it: the snapshot once issued (the logo and colour are
    the brand, always current), the company on a draft."""
    live = company_party(invoice.company)
    snap = invoice.seller_snapshot
    if not snap:
        return live
    return Party(
        name=str(snap.get("name", "")),
        email=str(snap.get("email", "")),
        address_lines=[str(line) for line in snap.get("address_lines", [])],
        tax_id=str(snap.get("tax_id", "")),
        logo_url=live.logo_url,
        logo_path=live.logo_path,
    )


def line_rows(lines: list[LineItem], *, currency: str, locale: str) -> list[LineRow]:
    return [
        LineRow(
            description=line.description,
            quantity=quantity_display(line.quantity, locale),
            unit_price=format_money(line.unit_amount, currency, locale),
            tax_rate=tax_rate_display(line.tax_rate, locale),
            tax=format_money(line.tax_amount, currency, locale),
            total=format_money(line.amount + line.tax_amount, currency, locale),
        )
        for line in lines
    ]


def invoice_document(
    *, invoice: Invoice, locale: str, lines: list[LineItem] | None = None
) -> InvoiceDocument:
    """The document of ``invoice`` (loaded with company and customer) in ``locale``.

    Queries: one for the lines unless ``lines`` is given (or prefetched as ``lines``).
    """
    if lines is None:
        lines = document_lines(invoice=invoice)
    currency = invoice.currency
    return InvoiceDocument(
        locale=locale,
        currency=currency.upper(),
        brand_color=brand_color(invoice.company),
        seller=invoice_seller(invoice),
        bill_to=invoice_bill_to(invoice),
        number=invoice.number,
        status=invoice_status_badge(invoice),
        issue_date=date_display(invoice.issue_date, locale),
        due_date=date_display(invoice.due_date, locale),
        lines=line_rows(lines, currency=currency, locale=locale),
        subtotal=format_money(invoice.subtotal, currency, locale),
        tax=format_money(invoice.tax_total, currency, locale),
        total=format_money(invoice.total, currency, locale),
        # Payments and applied credit both settle the invoice.
        paid=format_money(invoice.amount_paid + invoice.amount_credited, currency, locale),
        amount_due=format_money(invoice.amount_due, currency, locale),
        has_payments=invoice.amount_paid + invoice.amount_credited > 0,
        notes=invoice.notes,
        is_void=invoice.status == InvoiceStatus.VOID,
    )


@dataclass(frozen=True)
class InvoiceSummary:
    """The few values the invoice page shows around the document (heading, amount due)."""

    locale: str
    number: str
    status: StatusBadge
    total: str
    amount_due: str
    due_date: str
    is_void: bool


def invoice_summary(*, invoice: Invoice, locale: str) -> InvoiceSummary:
    """The heading values of the page, and what an email says of the invoice."""
    return InvoiceSummary(
        locale=locale,
        number=invoice.number,
        status=invoice_status_badge(invoice),
        total=format_money(invoice.total, invoice.currency, locale),
        amount_due=format_money(invoice.amount_due, invoice.currency, locale),
        due_date=date_display(invoice.due_date, locale),
        is_void=invoice.status == InvoiceStatus.VOID,
    )


# The fingerprint -------------------------------------------------------------------------
# Bump when a rendering changes in a way the inputs below do not capture (a WeasyPrint or Babel
# upgrade, the fonts, the renderer's options, a new field in the document).
TEMPLATE_VERSION = "1"


# What each rendering is made of besides data, relative to the project root.
SURFACE_SOURCES: dict[str, tuple[str, ...]] = {
    "page": (
        "templates/invoices/partials",
        "templates/portal",
        "templates/payments/_pay_action.html",
    ),
    "pdf": ("templates/pdf", "templates/invoices/partials", "static/pdf", "static/fonts"),
    # Statements of account (payments.statement_document): the PDF and its shared partial.
    "statement": (
        "templates/pdf/statement.html",
        "templates/statements",
        "static/pdf",
        "static/fonts",
    ),
}


def _digest_files(paths: Sequence[Path], root: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@functools.cache
def sources_digest(surface: str) -> str:
    """A hash of the templates, stylesheets and fonts of a rendering, computed once per
    process: editing a template invalidates every cached page or stored PDF at the next deploy,
    without remembering to bump anything."""
    root = Path(settings.BASE_DIR)
    files: list[Path] = []
    for source in SURFACE_SOURCES[surface]:
        path = root / source
        found = sorted(path.rglob("*")) if path.is_dir() else [path]
        files.extend(file for file in found if file.is_file())
    return _digest_files(files, root)


@functools.cache
def translations_digest(language: str) -> str:
    """A hash of the language's compiled translations (labels like "Amount due")."""
    files = [
        Path(folder) / language / "LC_MESSAGES" / "django.mo" for folder in settings.LOCALE_PATHS
    ]
    existing = [path for path in files if path.is_file()]
    return _digest_files(existing, Path("/")) if existing else ""


def lines_are_frozen(invoice: Invoice) -> bool:
    """Whether the invoice's lines can no longer change: once finalized, an invoice is a legal
    document and its lines are read-only (the admin's line inline is for drafts only, the API
    has no line edits). Their content is then covered by the invoice's identity, and a
    download needs no query for them. Code that ever edits a finalized invoice's lines must
    make this return False for such invoices."""
    return invoice.status != InvoiceStatus.DRAFT


def line_values(line: Any) -> tuple[Any, ...]:
    """A line's visible fields, from a LineItem (same order as a values_list of LINE_FIELDS)."""
    return tuple(getattr(line, field) for field in LINE_FIELDS)


def document_fingerprint(
    *,
    invoice: Invoice,
    language: str,
    surface: str,
    lines: Sequence[tuple[Any, ...]] | None,
    logo: str,
) -> str:
    """A hex SHA-256 naming one rendering of one invoice's document; equal inputs, equal
    fingerprint. The page cache and the stored PDF both key on it.

    ``invoice`` is loaded with company and customer; ``surface`` is ``"page"`` or ``"pdf"``
    (their templates differ); ``lines`` are LINE_FIELDS tuples, or None when
    lines_are_frozen(invoice); ``logo`` identifies the logo's content (the PDF hashes the
    bytes it embeds; the page, which must not read the file on every view, its stored name).
    The inputs are hashed raw (no formatting, no rendering), so a lookup costs a millisecond.
    """
    company, customer = invoice.company, invoice.customer
    payload = {
        "invoice": [
            invoice.public_id,
            invoice.number,
            invoice_status_badge(invoice).key,
            invoice.currency,
            invoice.issue_date,
            invoice.due_date,
            invoice.notes,
            invoice.subtotal,
            invoice.tax_total,
            invoice.total,
            invoice.amount_paid,
            invoice.amount_credited,
        ],
        "lines": "frozen" if lines is None else list(lines),
        "seller": invoice.seller_snapshot or seller_snapshot(company),
        "brand": brand_color(company),
        # The bank-transfer block (invoices.transfer) reads these live from the company.
        "bank": [
            company.bank_account_holder,
            company.iban,
            company.bic,
            company.payment_reference_format,
            # The stored PDF is the Factur-X one (invoices.pdf.services) when this is set.
            company.facturx_as_pdf,
        ],
        "logo": logo,
        "bill_to": invoice.buyer_snapshot or buyer_snapshot(customer),
        "language": language,
        "translations": translations_digest(language),
        "template_version": TEMPLATE_VERSION,
        "surface": surface,
        "sources": sources_digest(surface),
    }
    encoded = json.dumps(payload, ensure_ascii=False, default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()
