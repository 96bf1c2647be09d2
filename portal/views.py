"""The customer pages: one invoice (``/invoice/<token>``) and the customer portal
(``/portal/<token>``). No login: the token is the only credential, and every bad token gets
the same "Invoice not found" page (``not_found``), which other apps reuse for their tokens."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import translation
from django.views.decorators.http import require_safe
from django.views.defaults import page_not_found as default_page_not_found

from invoices.selectors import customer_for_portal_token, invoice_for_share_token
from payments.gates import pay_gate, stripe_connected
from portal.i18n import activate_language, negotiate_language
from portal.middleware import is_customer_facing
from portal.presenters import (
    brand_color,
    invoice_document_html,
    invoice_summary,
    portal_list_html,
)
from tracking.services import view_record_for_request

# "api": a link the company's own systems hand out after creating it through the API.
VIEW_SOURCES = frozenset({"link", "email", "portal", "api"})


def view_source(request: HttpRequest) -> str:
    """Where the customer came from (``?source=``), for view tracking: link, email, portal or
    api."""
    source = request.GET.get("source", "")
    return source if source in VIEW_SOURCES else "link"


def not_found(request: HttpRequest) -> HttpResponse:
    """The one "Invoice not found" page, 404. Byte-identical for unknown, malformed, revoked
    and expired tokens (and for any app's bad token): it depends only on the browser's
    language (``?lang=``, Accept-Language; never on the customer or company a token might
    name), so no response can hint which case it was, nor that a token once existed."""
    with translation.override(negotiate_language(request, customer=None, company=None)):
        body = render_to_string("portal/not_found.html")
    return HttpResponse(body, status=404)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler404: the not-found page on customer-facing paths (see portal.middleware)."""
    if is_customer_facing(request.path):
        return not_found(request)
    return default_page_not_found(request, exception)


# HEAD too: link checkers send it, and view tracking records it (not counted as a view).
@require_safe
def invoice_page(request: HttpRequest, token: str) -> HttpResponse:
    invoice = invoice_for_share_token(token)
    if invoice is None:
        return not_found(request)
    # Never raises: a failed tracking write is logged and the invoice is served anyway.
    view_record_for_request(invoice=invoice, request=request, source=view_source(request))
    company = invoice.company
    lang = activate_language(request, customer=invoice.customer, company=company)
    pay = pay_gate(invoice=invoice, connected=stripe_connected(company))
    context = {
        # The heading values; the document itself comes rendered (and cached) as HTML.
        "doc": invoice_summary(invoice=invoice, locale=lang),
        "document_html": invoice_document_html(invoice=invoice, locale=lang),
        "brand_color": brand_color(company),
        "company_name": company.name,
        "token": token,
        "invoice": invoice,
        "pay": pay,
        "source": view_source(request),
    }
    return render(request, "portal/invoice.html", context)


@require_safe  # GET and HEAD (link checkers)
def portal_view(request: HttpRequest, token: str) -> HttpResponse:
    customer = customer_for_portal_token(token)
    if customer is None:
        return not_found(request)
    company = customer.company
    lang = activate_language(request, customer=customer, company=company)
    # Asked once per page: every row's pay action uses the same answer.
    connected = stripe_connected(company)
    context = {
        "portal_html": portal_list_html(
            customer=customer,
            locale=lang,
            page_number=request.GET.get("page"),
            connected=connected,
        ),
        "customer_name": customer.name,
        "brand_color": brand_color(company),
        "company_name": company.name,
        "token": token,
    }
    return render(request, "portal/portal.html", context)
