"""The customer pages: one invoice (``/invoice/<token>``) and the customer portal
(``/portal/<token>``). No login: the token is the only credential, and every bad token gets
the same "Invoice not found" page (``core.http.not_found``)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe
from django.views.defaults import page_not_found as default_page_not_found

from core.http import not_found
from core.i18n import activate_language, supported_languages
from invoices.customization import scope
from invoices.decorators import share_link_page_annotated
from invoices.document import brand_color, date_display, invoice_summary
from invoices.einvoice.services import EINVOICE_LABELS, einvoice_formats_offered
from invoices.models import Invoice
from invoices.money import format_money
from invoices.selectors import customer_for_portal_token, customer_languages
from invoices.timezones import company_date, company_today
from invoices.transfer import bank_transfer
from payments.gates import (
    STRIPE_STATE_SQL,
    StripeState,
    pay_gate,
    stripe_state_from,
)
from payments.selectors import LAST_PAYMENT_ID_SQL, payment_shown
from portal.account.layout import Account, account_context
from portal.comments.selectors import THREAD_VERSION_SQL
from portal.documents.selectors import HAS_DOCUMENTS_SQL
from portal.middleware import is_customer_facing
from portal.page_cache import cached_page, page_cacheable, page_key, rows_digest
from portal.pay_views import advance_form_for
from portal.presenters import (
    PORTAL_MAX_PAGE,
    account_cards_html,
    invoice_document_html,
    portal_list_html,
)
from portal.selectors import PORTAL_VERSION_SQL, portal_data_version_from
from tracking.services import view_record_for_request

# "api": a link the company's own systems hand out after creating it through the API.
VIEW_SOURCES = frozenset({"link", "email", "portal", "api"})


def view_source(request: HttpRequest) -> str:
    """Where the customer came from (``?source=``), for view tracking: link, email, portal or
    api."""
    source = request.GET.get("source", "")
    return source if source in VIEW_SOURCES else "link"


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler404: the not-found page on customer-facing paths (see portal.middleware)."""
    if is_customer_facing(request.path) or scope.host_site() is not None:
        return not_found(request)
    return default_page_not_found(request, exception)


# What the invoice page shows besides the invoice, company and customer rows, read by the token
# lookup itself: the Stripe connection (the pay action, the card), the last payment (the paid
# notice) and the comment thread's version. With the rows they name every input of the page.
INVOICE_PAGE_FACTS = {
    "page_stripe_key": STRIPE_STATE_SQL,
    "page_last_payment_id": LAST_PAYMENT_ID_SQL,
    **{f"page_{name}": sql for name, sql in THREAD_VERSION_SQL.items()},
}


def _shipped_language(code: str) -> bool:
    return code in supported_languages()


# The query parameters the invoice page knows, each with the check of the values it caches a
# page for.
INVOICE_PAGE_PARAMS = {"source": VIEW_SOURCES.__contains__, "lang": _shipped_language}


# HEAD too: link checkers send it, and view tracking records it (not counted as a view).
@require_safe
@share_link_page_annotated(INVOICE_PAGE_FACTS)
def invoice_page(request: HttpRequest, invoice: Invoice, token: str) -> HttpResponse:
    """Queries: the token lookup (with INVOICE_PAGE_FACTS) and tracking's write; when the page
    is not cached yet, rendering adds the last payment (once paid), the lines (unless the
    document is cached) and the comment thread."""
    # Never raises: a failed tracking write is logged and the invoice is served anyway.
    view_record_for_request(invoice=invoice, request=request, source=view_source(request))
    stripe = stripe_state_from(invoice.page_stripe_key)  # type: ignore[attr-defined]
    key = None
    if page_cacheable(request, params=INVOICE_PAGE_PARAMS):
        key = page_key(
            request,
            "invoice",
            today=company_today(invoice.company),
            inputs=(
                rows_digest((invoice, invoice.company, invoice.customer)),
                *(getattr(invoice, name) for name in INVOICE_PAGE_FACTS),
            ),
        )
    return cached_page(
        request,
        key,
        lambda: _invoice_page(request, invoice, token, stripe, whole_page_cached=key is not None),
    )


def _invoice_page(
    request: HttpRequest,
    invoice: Invoice,
    token: str,
    stripe: StripeState,
    *,
    whole_page_cached: bool,
) -> HttpResponse:
    company = invoice.company
    lang = request.LANGUAGE_CODE
    pay = pay_gate(invoice=invoice, connected=stripe.connected)
    context = {
        # Only once money came in (one query then): when, and the receipt.
        "paid": _last_payment(invoice, token=token, lang=lang),
        # The heading values; the document itself comes rendered (and cached) as HTML.
        "doc": invoice_summary(invoice=invoice, locale=lang),
        "document_html": invoice_document_html(
            invoice=invoice, locale=lang, whole_page_cached=whole_page_cached
        ),
        "brand_color": brand_color(company),
        "company_name": company.name,
        "token": token,
        "invoice": invoice,
        "pay": pay,
        # Beside online payment: the company's bank details and, for EUR, the QR code.
        "transfer": bank_transfer(invoice=invoice, locale=lang),
        # The e-invoice formats the company offers and the data can make (no query).
        "einvoices": [
            {"label": EINVOICE_LABELS[fmt], "url": f"/invoice/{token}/e-invoice/{fmt}"}
            for fmt in einvoice_formats_offered(invoice)
        ],
        "stripe": stripe,
        "source": view_source(request),
    }
    return render(request, "portal/invoice.html", context)


def _last_payment(invoice: Invoice, *, token: str, lang: str) -> dict[str, str] | None:
    # Which payment the lookup read (INVOICE_PAGE_FACTS: LAST_PAYMENT_ID_SQL).
    payment_id = invoice.page_last_payment_id  # type: ignore[attr-defined]
    if invoice.amount_paid <= 0 or payment_id is None:
        return None
    payment = payment_shown(payment_id=payment_id)
    if payment is None:
        return None
    return {
        "date": date_display(company_date(invoice.company, payment.paid_at), lang),
        "amount": format_money(payment.amount, payment.currency, lang),
        "receipt_url": f"/invoice/{token}/payments/{payment.public_id}/receipt.pdf?lang={lang}",
    }


# What the account home shows besides the customer and company rows, read by the token lookup
# itself: the Stripe connection (pay actions), whether the Documents tab shows, and the portal's
# data version (the cards and the list). With the rows they name every input of the page.
PORTAL_PAGE_FACTS = {
    "page_stripe_key": STRIPE_STATE_SQL,
    "page_has_documents": HAS_DOCUMENTS_SQL,
    **PORTAL_VERSION_SQL,
}
# The query parameters the account home knows and the values it caches a page for (the list's
# pages as the pager links them).
PORTAL_PAGE_PARAMS = {
    "page": frozenset(str(number) for number in range(1, PORTAL_MAX_PAGE + 1)).__contains__,
    "lang": _shipped_language,
    "source": VIEW_SOURCES.__contains__,
}


@require_safe  # GET and HEAD (link checkers)
def portal_view(request: HttpRequest, token: str) -> HttpResponse:
    """Queries: the token lookup (with PORTAL_PAGE_FACTS); when the page is not cached yet,
    rendering adds those of the cards and the list (unless they are cached)."""
    customer = customer_for_portal_token(token, annotate=PORTAL_PAGE_FACTS)
    if customer is None:
        return not_found(request)
    company = customer.company
    lang = activate_language(request, preferred=customer_languages(customer, company))
    # Asked once per page: every row's pay action uses the same answer.
    connected = stripe_state_from(customer.page_stripe_key).connected  # type: ignore[attr-defined]
    has_documents = bool(customer.page_has_documents)  # type: ignore[attr-defined]
    # The cards and the list are cached under it too.
    version = portal_data_version_from(customer)
    account = Account(customer=customer, token=token, lang=lang, today=company_today(company))
    key = None
    if page_cacheable(request, params=PORTAL_PAGE_PARAMS):
        key = page_key(
            request,
            "portal",
            today=account.today,
            inputs=(rows_digest((customer, company)), connected, has_documents, version),
        )
    return cached_page(
        request,
        key,
        lambda: _portal_page(
            request,
            account,
            connected=connected,
            has_documents=has_documents,
            version=version,
            whole_page_cached=key is not None,
        ),
    )


def _portal_page(
    request: HttpRequest,
    account: Account,
    *,
    connected: bool,
    has_documents: bool,
    version: str,
    whole_page_cached: bool,
) -> HttpResponse:
    customer, token, lang = account.customer, account.token, account.lang
    context = {
        **account_context(account, active="portal", has_documents=has_documents),
        "cards_html": account_cards_html(
            customer=customer,
            token=token,
            locale=lang,
            connected=connected,
            version=version,
            today=account.today,
            whole_page_cached=whole_page_cached,
        ),
        "portal_html": portal_list_html(
            customer=customer,
            locale=lang,
            page_number=request.GET.get("page"),
            connected=connected,
            version=version,
            whole_page_cached=whole_page_cached,
        ),
        # "Pay in advance", when the company offers it (no query: the company is loaded).
        "advance": advance_form_for(customer=customer, lang=lang) if connected else None,
    }
    return render(request, "portal/portal.html", context)
