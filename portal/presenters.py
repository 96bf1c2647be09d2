"""Page data for the customer pages and the PDF: every amount and date formatted once, here.

The document partials in ``templates/invoices/partials/`` render an :class:`InvoiceDocument`
(the context variable ``doc``); the invoice page and the PDF (issue 4) both build it with
:func:`invoice_document`, so what a customer reads on screen and on paper cannot drift apart.
Formatting happens in Python (Babel through ``invoices.money.format_money`` and
``babel.dates``) so templates stay free of logic and the same strings reach both renderers.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from babel.dates import format_date
from babel.numbers import format_decimal, format_percent
from django.conf import settings
from django.core.cache import cache
from django.core.paginator import Paginator
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from invoices.models import Company, Customer, Invoice, InvoiceStatus, LineItem
from invoices.money import format_money
from invoices.selectors import (
    credit_balance,
    has_overdue,
    invoices_for_customer,
    is_overdue,
    outstanding_by_currency,
)
from invoices.services import share_link_token, share_links_for_portal
from payments.gates import PayGate, pay_gate
from portal.selectors import portal_data_version

logger = logging.getLogger(__name__)

DEFAULT_BRAND_COLOR = "#1d4ed8"
_COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")


def brand_color(company: Company) -> str:
    """The company colour, safe to put into a stylesheet (the model validator runs on forms
    only, and this value lands inside a <style> element)."""
    color = company.brand_color or ""
    return color if _COLOR_RE.match(color) else DEFAULT_BRAND_COLOR


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
        address_lines=[line for line in company.address.splitlines() if line.strip()],
        tax_id=company.tax_id,
        logo_url=logo_src(company),
        logo_path=logo_path,
    )


def customer_party(customer: Customer) -> Party:
    return Party(name=customer.name, email=customer.email, address_lines=customer.address_lines)


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
        lines = list(
            invoice.lines.all().only(
                "invoice_id",
                "position",
                "description",
                "quantity",
                "unit_amount",
                "tax_rate",
                "amount",
                "tax_amount",
            )
        )
    currency = invoice.currency
    return InvoiceDocument(
        locale=locale,
        currency=currency.upper(),
        brand_color=brand_color(invoice.company),
        seller=company_party(invoice.company),
        bill_to=customer_party(invoice.customer),
        number=invoice.number,
        status=invoice_status_badge(invoice),
        issue_date=date_display(invoice.issue_date, locale),
        due_date=date_display(invoice.due_date, locale),
        lines=line_rows(lines, currency=currency, locale=locale),
        subtotal=format_money(invoice.subtotal, currency, locale),
        tax=format_money(invoice.tax_total, currency, locale),
        total=format_money(invoice.total, currency, locale),
        paid=format_money(invoice.amount_paid, currency, locale),
        amount_due=format_money(invoice.amount_due, currency, locale),
        has_payments=invoice.amount_paid > 0,
        notes=invoice.notes,
        is_void=invoice.status == InvoiceStatus.VOID,
    )


@dataclass(frozen=True)
class InvoiceSummary:
    """The few values the invoice page shows around the document (heading, amount due)."""

    locale: str
    number: str
    status: StatusBadge
    amount_due: str
    due_date: str
    is_void: bool


def invoice_summary(*, invoice: Invoice, locale: str) -> InvoiceSummary:
    return InvoiceSummary(
        locale=locale,
        number=invoice.number,
        status=invoice_status_badge(invoice),
        amount_due=format_money(invoice.amount_due, invoice.currency, locale),
        due_date=date_display(invoice.due_date, locale),
        is_void=invoice.status == InvoiceStatus.VOID,
    )


# Rendered fragments, cached ---------------------------------------------------------------
# The invoice document and the portal list are cached as HTML (Redis in production), keyed by
# every input that shows in them, so a changed invoice, payment, status, link, company detail,
# language, day (overdue) or deployed template/translation simply misses. Views stay the same
# pages, minus the lines query, Babel and template work on a hit. The token check is never
# cached: a revoked or expired link is refused at once.

CACHE_SECONDS = 3600
_CACHE_PREFIX = "portal:html:v1:"
# What the cached fragments are made of besides data, relative to the project root.
_FRAGMENT_SOURCES = (
    "templates/invoices/partials",
    "templates/portal",
    "templates/payments/_pay_action.html",
    "locale",
)


@functools.cache
def _sources_digest() -> str:
    """Templates and compiled translations, hashed once per process: a deploy that changes
    them changes every key."""
    root = Path(settings.BASE_DIR)
    digest = hashlib.sha256()
    for source in _FRAGMENT_SOURCES:
        path = root / source
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        for file in files:
            if file.is_file() and file.suffix in (".html", ".mo"):
                digest.update(str(file.relative_to(root)).encode())
                digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def _cache_key(kind: str, parts: tuple[object, ...]) -> str:
    raw = "\x1f".join(str(part) for part in (*parts, _sources_digest()))
    return f"{_CACHE_PREFIX}{kind}:{hashlib.sha256(raw.encode()).hexdigest()}"


def _cached_html(key: str, render: Callable[[], str]) -> SafeString:
    """The cached fragment, or render (and store) it. A cache outage only costs speed.
    The fragments are our own rendered templates (autoescaped), hence safe."""
    try:
        html = cache.get(key)
    except Exception:  # any cache backend error: serve uncached
        logger.warning("page cache unavailable", exc_info=True)
        return mark_safe(render())  # noqa: S308
    if not isinstance(html, str):
        html = str(render())
        try:
            cache.set(key, html, CACHE_SECONDS)
        except Exception:
            logger.warning("page cache unavailable", exc_info=True)
    return mark_safe(html)  # noqa: S308


def _party_parts(company: Company, customer: Customer) -> tuple[object, ...]:
    return (
        company.pk,
        company.name,
        company.email,
        company.address,
        company.tax_id,
        company.logo.name if company.logo else "",
        company.brand_color,
        customer.pk,
        customer.name,
        customer.email,
        *customer.address_lines,
    )


def invoice_document_html(*, invoice: Invoice, locale: str) -> SafeString:
    """The rendered document partials of ``invoice`` (loaded with company and customer).
    Queries: none when cached, else one (the lines). Lines of a finalized invoice never change
    (they are editable in drafts only); its amounts and status are in the key anyway."""
    key = _cache_key(
        "document",
        (
            invoice.pk,
            invoice.updated_at.isoformat() if invoice.updated_at else "",
            invoice.status,
            invoice_status_badge(invoice).key,
            invoice.number,
            invoice.currency,
            invoice.issue_date,
            invoice.due_date,
            invoice.subtotal,
            invoice.tax_total,
            invoice.total,
            invoice.amount_paid,
            invoice.notes,
            *_party_parts(invoice.company, invoice.customer),
            locale,
        ),
    )
    return _cached_html(
        key,
        lambda: render_to_string(
            "invoices/partials/_document.html",
            {"doc": invoice_document(invoice=invoice, locale=locale)},
        ),
    )


# The customer portal ---------------------------------------------------------------------

PORTAL_PAGE_SIZE = 25
_ROW_FIELDS = (
    "id",
    "company_id",
    "customer_id",
    "number",
    "status",
    "currency",
    "issue_date",
    "due_date",
    "total",
    "amount_paid",
    # Read by the pay action partial (payments/_pay_action.html).
    "public_id",
    "allow_partial_payments",
    "minimum_payment",
)


@dataclass(frozen=True)
class PortalRow:
    number: str
    issue_date: str
    due_date: str
    status: StatusBadge
    amount_due: str
    # /invoice/<token>?source=portal (view tracking counts portal visits apart).
    url: str
    # For the pay action partial (payments/_pay_action.html): token, invoice, pay.
    token: str
    invoice: Invoice
    pay: PayGate


@dataclass(frozen=True)
class PortalPage:
    locale: str
    customer_name: str
    # Formatted amounts, one per currency (a customer may be billed in several).
    outstanding: list[str]
    has_overdue: bool
    credit: list[str]
    rows: list[PortalRow]
    page_number: int
    num_pages: int
    previous_page: int | None
    next_page: int | None
    total_count: int


def _money_list(amounts: dict[str, int], locale: str) -> list[str]:
    return [format_money(amount, currency, locale) for currency, amount in sorted(amounts.items())]


def portal_page(
    *, customer: Customer, locale: str, page_number: str | int | None, connected: bool
) -> PortalPage:
    """The portal of ``customer`` (loaded with its company), one page of 25 invoices.

    Queries, whatever the number of invoices: the invoice count, the page of invoices, their
    share links (plus an insert and a re-read on a first visit), outstanding per currency, the
    overdue flag, the credit balance.
    """
    company = customer.company
    paginator = Paginator(
        invoices_for_customer(customer=customer).only(*_ROW_FIELDS), PORTAL_PAGE_SIZE
    )
    page = paginator.get_page(page_number)
    invoices = list(page.object_list)
    for invoice in invoices:
        # The rows belong to the portal's customer and company by the query: reuse the loaded
        # objects instead of one query per row (pay_gate reads invoice.company.plan).
        invoice.company = company
        invoice.customer = customer
    links = share_links_for_portal(invoices=invoices)
    today = timezone.localdate()
    rows = []
    for invoice in invoices:
        token = share_link_token(links[invoice.pk])
        rows.append(
            PortalRow(
                number=invoice.number,
                issue_date=date_display(invoice.issue_date, locale),
                due_date=date_display(invoice.due_date, locale),
                status=invoice_status_badge(invoice, today=today),
                amount_due=format_money(invoice.amount_due, invoice.currency, locale),
                # The page's language travels along, so portal and invoice read alike.
                url=f"{reverse('invoice_page', args=[token])}?source=portal&lang={locale}",
                token=token,
                invoice=invoice,
                pay=pay_gate(invoice=invoice, connected=connected),
            )
        )
    return PortalPage(
        locale=locale,
        customer_name=customer.name,
        outstanding=_money_list(outstanding_by_currency(customer=customer), locale),
        has_overdue=has_overdue(customer=customer, today=today),
        credit=_money_list(credit_balance(customer=customer), locale),
        rows=rows,
        page_number=page.number,
        num_pages=paginator.num_pages,
        previous_page=page.previous_page_number() if page.has_previous() else None,
        next_page=page.next_page_number() if page.has_next() else None,
        total_count=paginator.count,
    )


PORTAL_MAX_PAGE = 1000


def portal_list_html(
    *, customer: Customer, locale: str, page_number: str | None, connected: bool
) -> SafeString:
    """The rendered portal body (balances, one page of invoices, pager) of ``customer``
    (loaded with its company). Queries: one (the data version) when cached, else seven."""
    now = timezone.now()
    version = portal_data_version(customer=customer, now=now)
    try:
        # Bounded, so made-up page numbers cannot fill the cache (past the end: the last page).
        requested = min(max(int(page_number or 1), 1), PORTAL_MAX_PAGE)
    except ValueError:
        requested = 1
    company = customer.company
    key = _cache_key(
        "portal",
        (
            customer.pk,
            customer.name,
            company.pk,
            company.plan,
            connected,
            timezone.localdate(now),
            requested,
            version,
            locale,
        ),
    )

    def render() -> str:
        page = portal_page(
            customer=customer, locale=locale, page_number=requested, connected=connected
        )
        return render_to_string("portal/_portal_body.html", {"portal": page})

    return _cached_html(key, render)
