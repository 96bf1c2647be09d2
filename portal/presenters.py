"""Page data for the customer pages: the cached invoice document and the portal list.

What a customer reads about one invoice comes from ``invoices.document``; this module renders
it for the page (cached under the document's fingerprint) and builds the portal's list.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import SafeString

from core.fragments import cached_html
from invoices.document import (
    StatusBadge,
    date_display,
    document_fingerprint,
    invoice_document,
    invoice_status_badge,
    seller_snapshot,
)
from invoices.einvoice.services import EINVOICE_LABELS, einvoice_formats_offered
from invoices.models import Customer, Invoice
from invoices.models.company import Plan
from invoices.money import format_money
from invoices.services import share_link_token, share_links_for_portal, share_token_of
from payments.gates import PayGate, pay_gate
from portal.selectors import portal_data_version, portal_list_page

logger = logging.getLogger(__name__)

# Rendered fragments, cached ---------------------------------------------------------------
# The invoice document and the portal list are cached as HTML (Redis in production), keyed by
# every input that shows in them, so a changed invoice, payment, status, link, company detail,
# language, day (overdue) or deployed template/translation simply misses. Views stay the same
# pages, minus the lines query, Babel and template work on a hit. The token check is never
# cached: a revoked or expired link is refused at once. Whole pages are cached on top of these
# (portal.page_cache), with the same reads and sources digest below. A page that is cached whole
# keeps no copy of its fragments (``whole_page_cached``): storing both cost two more cache round
# trips on every first view, to spare a render only when the page's other inputs change (a new
# comment, another ``?source=``). The fragments serve the pages that are never cached whole:
# those of signed-in customers.

CACHE_SECONDS = 3600
_CACHE_PREFIX = "portal:html:v1:"
# What the customer pages are made of besides data, relative to the project root: every
# template engine's folders (settings.TEMPLATES), compiled translations and the code that
# builds them (the apps' own template folders inside). Hashed once per process, so a deploy
# that changes any of them changes every key, with nothing to remember to bump.
_PAGE_CODE = ("locale", "core", "invoices", "payments", "portal")
_PAGE_SOURCE_SUFFIXES = (".html", ".mo", ".py")


def page_source_files() -> list[Path]:
    """The files the page cache's keys depend on, in a fixed order."""
    root = Path(settings.BASE_DIR)
    engines_settings: list[dict[str, Any]] = settings.TEMPLATES
    template_dirs = [Path(folder) for engine in engines_settings for folder in engine["DIRS"]]
    files: list[Path] = []
    for source in [*template_dirs, *(root / name for name in _PAGE_CODE)]:
        files.extend(
            file
            for file in sorted(source.rglob("*"))
            if file.suffix in _PAGE_SOURCE_SUFFIXES
            and "migrations" not in file.parts
            and file.is_file()
        )
    return files


@functools.cache
def page_sources_digest() -> str:
    """Templates, compiled translations, page code and the static files' manifest (hashed
    names), hashed once per process."""
    root = Path(settings.BASE_DIR)
    digest = hashlib.sha256()
    for file in page_source_files():
        digest.update(str(file.relative_to(root)).encode())
        digest.update(file.read_bytes())
    static_root = getattr(settings, "STATIC_ROOT", None)
    manifest = Path(static_root) / "staticfiles.json" if static_root else None
    if manifest is not None and manifest.is_file():
        digest.update(manifest.read_bytes())
    return digest.hexdigest()[:16]


def cache_key(kind: str, parts: tuple[object, ...]) -> str:
    """A key naming every input in ``parts`` (hashed: tokens and names never stored readable)."""
    raw = "\x1f".join(str(part) for part in parts)
    return f"{_CACHE_PREFIX}{kind}:{hashlib.sha256(raw.encode()).hexdigest()}"


def invoice_document_html(
    *, invoice: Invoice, locale: str, whole_page_cached: bool = False
) -> SafeString:
    """The rendered document partials of ``invoice`` (loaded with company and customer), cached
    under its document fingerprint unless ``whole_page_cached``. Queries: none when cached,
    else one (the lines). A customer page never shows a draft, so its lines are frozen and need
    no query for the key."""
    company = invoice.company
    key = None
    if not whole_page_cached:
        fingerprint = document_fingerprint(
            invoice=invoice,
            language=locale,
            surface="page",
            lines=None,
            logo=str(company.logo.name or "") if company.logo else "",
        )
        key = f"{_CACHE_PREFIX}document:{fingerprint}"
    return cached_html(
        key,
        lambda: render_to_string(
            "invoices/partials/_document.html",
            {"doc": invoice_document(invoice=invoice, locale=locale)},
        ),
        CACHE_SECONDS,
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
    "amount_credited",
    # Read by the pay action partial (payments/_pay_action.html).
    "public_id",
    "allow_partial_payments",
    "minimum_payment",
)
# Read by einvoice_formats_offered (the e-invoice downloads of a row), which looks at them only
# when the company offers a format: two JSON documents a row, decoded for nothing otherwise.
_EINVOICE_ROW_FIELDS = ("buyer_snapshot", "seller_snapshot")


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
    # The e-invoice downloads offered: [{"label", "url"}].
    einvoices: list[dict[str, str]]


@dataclass(frozen=True)
class PortalPage:
    locale: str
    customer_name: str
    rows: list[PortalRow]
    page_number: int
    num_pages: int
    previous_page: int | None
    next_page: int | None
    total_count: int


def portal_page(
    *, customer: Customer, locale: str, page_number: str | int | None, connected: bool
) -> PortalPage:
    """One page of 25 invoices of the portal of ``customer`` (loaded with its company).

    One query whatever the number of invoices (the page with its share links and the count);
    on a first visit also those creating the rows' missing links
    (``invoices.services.share_links_for_portal``).
    """
    company = customer.company
    try:
        requested = int(page_number or 1)
    except ValueError:
        requested = 1
    fields = _ROW_FIELDS + (_EINVOICE_ROW_FIELDS if company.einvoice_formats else ())
    page = portal_list_page(
        customer=customer, number=requested, size=PORTAL_PAGE_SIZE, fields=fields
    )
    invoices = page.invoices
    for invoice in invoices:
        # The rows belong to the portal's customer and company by the query: reuse the loaded
        # objects instead of one query per row (pay_gate reads invoice.company.plan).
        invoice.company = company
        invoice.customer = customer
    tokens = {
        invoice.pk: share_token_of(invoice.selector)  # type: ignore[attr-defined]
        for invoice in invoices
        if invoice.selector  # type: ignore[attr-defined]
    }
    unlinked = [invoice for invoice in invoices if invoice.pk not in tokens]
    if unlinked:
        for pk, link in share_links_for_portal(invoices=unlinked).items():
            tokens[pk] = share_link_token(link)
    today = timezone.localdate()
    rows = []
    for invoice in invoices:
        token = tokens[invoice.pk]
        rows.append(
            PortalRow(
                number=invoice.number,
                issue_date=date_display(invoice.issue_date, locale),
                due_date=date_display(invoice.due_date, locale),
                status=invoice_status_badge(invoice, today=today),
                amount_due=format_money(invoice.amount_due, invoice.currency, locale),
                # The page's language travels along, so portal and invoice read alike.
                url=f"/invoice/{token}?source=portal&lang={locale}",
                token=token,
                invoice=invoice,
                pay=pay_gate(invoice=invoice, connected=connected),
                einvoices=[
                    {"label": EINVOICE_LABELS[fmt], "url": f"/invoice/{token}/e-invoice/{fmt}"}
                    for fmt in einvoice_formats_offered(invoice)
                ],
            )
        )
    return PortalPage(
        locale=locale,
        customer_name=customer.name,
        rows=rows,
        page_number=page.number,
        num_pages=page.num_pages,
        previous_page=page.number - 1 if page.number > 1 else None,
        next_page=page.number + 1 if page.number < page.num_pages else None,
        total_count=page.count,
    )


PORTAL_MAX_PAGE = 1000


def portal_list_html(
    *,
    customer: Customer,
    locale: str,
    page_number: str | None,
    connected: bool,
    version: str | None = None,
    whole_page_cached: bool = False,
) -> SafeString:
    """The rendered portal body (one page of invoices, pager) of ``customer`` (loaded with its
    company), cached unless ``whole_page_cached``. Queries: one (the data version, unless
    passed in) when cached, else one more (``portal_page``)."""
    now = timezone.now()
    if version is None:
        version = portal_data_version(customer=customer, now=now)
    try:
        # Bounded, so made-up page numbers cannot fill the cache (past the end: the last page).
        requested = min(max(int(page_number or 1), 1), PORTAL_MAX_PAGE)
    except ValueError:
        requested = 1
    company = customer.company
    key = cache_key(
        "portal",
        (
            customer.pk,
            customer.name,
            company.pk,
            company.plan,
            connected,
            # What the e-invoice links depend on besides the invoices' own snapshots.
            seller_snapshot(company),
            tuple(company.einvoice_formats or ()),
            timezone.localdate(now),
            requested,
            version,
            locale,
            page_sources_digest(),
        ),
    )

    def render() -> str:
        page = portal_page(
            customer=customer, locale=locale, page_number=requested, connected=connected
        )
        return render_to_string("portal/_portal_body.html", {"portal": page}, using="jinja2")

    return cached_html(None if whole_page_cached else key, render, CACHE_SECONDS)


def account_cards_html(
    *,
    customer: Customer,
    token: str,
    locale: str,
    connected: bool,
    version: str,
    today: dt.date,
    whole_page_cached: bool = False,
) -> SafeString:
    """The account home's cards of ``customer`` (loaded with its company), one group per
    currency, with "Pay everything due", and the balance summary
    (jinja_templates/portal/account/_cards.html), cached under the portal's data version and the
    company's day (aging moves with it), unless ``whole_page_cached``. Queries: none when
    cached, else two
    (``portal.account.selectors.account_by_currency``)."""
    company = customer.company
    key = cache_key(
        "cards",
        (
            customer.pk,
            # In the pay forms' address (hashed into the key, never stored readable).
            token,
            company.pk,
            company.plan,
            company.time_zone,
            connected,
            today,
            version,
            locale,
            page_sources_digest(),
        ),
    )

    def render() -> str:
        from portal.account.presenters import account_balances, currency_cards
        from portal.account.selectors import account_by_currency

        accounts = account_by_currency(customer=customer, today=today, with_payable=connected)
        return render_to_string(
            "portal/account/_cards.html",
            {
                "cards": currency_cards(accounts=accounts, company=company, locale=locale),
                "balances": account_balances(accounts=accounts, company=company, locale=locale),
                "token": token,
                "lang": locale,
                "pay_enabled": connected and company.plan == Plan.PRO,
            },
            using="jinja2",
        )

    return cached_html(None if whole_page_cached else key, render, CACHE_SECONDS)
