"""The customer's account pages under the portal token: the activity lists (invoices, credit
notes, payments), the invoice list's exports (CSV, ZIP of PDFs) and payment receipts.

Every view opens the account through ``layout.account_for_request`` (one query; any bad token
gets the one not-found page) and reads only the objects of that customer of that company.
A filter value out of range answers 400 with the page's error state, never a 500.
"""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from core.http import not_found
from payments import receipts
from payments.gates import stripe_connected
from portal.account import exports, filters, presenters, selectors
from portal.account.layout import Account, account_context, account_for_request


def _params(request: HttpRequest, names: tuple[str, ...]) -> dict[str, str]:
    # Only the parameters a page reads; any other is ignored.
    return {name: request.GET.get(name, "") for name in names}


# Invoices ---------------------------------------------------------------------------------


def _invoices_page(
    request: HttpRequest,
    account: Account,
    *,
    invoice_filter: filters.InvoiceFilter | None,
    error: str = "",
    error_field: str = "",
) -> HttpResponse:
    customer = account.customer
    company = customer.company
    context: dict[str, Any] = {
        **account_context(account, active="portal_invoices"),
        "error": error,
        "error_field": error_field,
        # The form shows what was asked, also when it was refused.
        "asked": _params(request, filters.PARAMETERS),
        "statuses": filters.STATUSES,
        "sorts": filters.SORTS,
        "per_page_choices": filters.PER_PAGE,
        "zip_max": exports.ZIP_MAX_INVOICES,
        "rows": [],
        "filter": invoice_filter,
    }
    if invoice_filter is not None and not error:
        matching = selectors.invoices_filtered(
            customer=customer, invoice_filter=invoice_filter, today=account.today
        )
        paginator = Paginator(matching, invoice_filter.per_page, allow_empty_first_page=True)
        if invoice_filter.page > paginator.num_pages:
            refused = filters.page_refused(invoice_filter.page)
            return _invoices_page(
                request,
                account,
                invoice_filter=invoice_filter,
                error=refused.message,
                error_field="page",
            )
        page = paginator.page(invoice_filter.page)
        connected = stripe_connected(company)
        rows = presenters.invoice_rows(
            invoices=list(page.object_list),
            company=company,
            customer=customer,
            locale=account.lang,
            today=account.today,
            connected=connected,
        )
        context.update(
            rows=rows,
            count=paginator.count,
            page=page,
            num_pages=paginator.num_pages,
            connected=connected,
            any_payable=any(row.payable for row in rows),
            previous_query=(
                invoice_filter.urlencode(page=page.number - 1, lang=account.lang)
                if page.has_previous()
                else ""
            ),
            next_query=(
                invoice_filter.urlencode(page=page.number + 1, lang=account.lang)
                if page.has_next()
                else ""
            ),
            export_query=invoice_filter.export_query(),
            zip_allowed=paginator.count <= exports.ZIP_MAX_INVOICES,
            sort_links=_sort_links(invoice_filter, account.lang),
        )
    status = 400 if error else 200
    return render(request, "portal/account/invoices.html", context, status=status)


def _sort_links(invoice_filter: filters.InvoiceFilter, lang: str) -> dict[str, dict[str, str]]:
    """Per sortable column: the link that sorts by it (toggling the order when it is the
    current one) and its aria-sort value."""
    links = {}
    for column in filters.SORTS:
        current = invoice_filter.sort == column
        order = "asc" if current and invoice_filter.order == "desc" else "desc"
        links[column] = {
            "query": invoice_filter.urlencode(sort=column, order=order, page=1, lang=lang),
            "aria": (
                ("descending" if invoice_filter.order == "desc" else "ascending")
                if current
                else "none"
            ),
        }
    return links


def _filtered(
    request: HttpRequest, token: str
) -> tuple[Account | None, filters.InvoiceFilter | None, HttpResponse | None]:
    account = account_for_request(request, token)
    if account is None:
        return None, None, not_found(request)
    try:
        invoice_filter = filters.invoice_filter_parse(_params(request, filters.PARAMETERS))
    except filters.FilterRefused as refused:
        page = _invoices_page(
            request,
            account,
            invoice_filter=None,
            error=refused.message,
            error_field=refused.field or "",
        )
        return account, None, page
    return account, invoice_filter, None


@require_safe
def invoices_page(request: HttpRequest, token: str) -> HttpResponse:
    """GET /portal/<token>/invoices. Queries, whatever the number of invoices: the token, the
    count, one page of invoices, whether Stripe is connected, the rows' share links."""
    account, invoice_filter, refused = _filtered(request, token)
    if refused is not None:
        return refused
    assert account is not None
    return _invoices_page(request, account, invoice_filter=invoice_filter)


def _attachment(response: HttpResponse, filename: str) -> HttpResponse:
    response["Content-Disposition"] = content_disposition_header(True, filename) or ""
    return response


@require_safe
def invoices_csv(request: HttpRequest, token: str) -> HttpResponse:
    """GET /portal/<token>/invoices.csv: every invoice of the filter (all pages). Queries: the
    token and the invoices, whatever their number."""
    account, invoice_filter, refused = _filtered(request, token)
    if refused is not None:
        return refused
    assert account is not None and invoice_filter is not None
    matching = selectors.invoices_filtered(
        customer=account.customer, invoice_filter=invoice_filter, today=account.today
    )
    body = exports.invoices_csv(matching.iterator(chunk_size=500))
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Length"] = str(len(body))
    return _attachment(response, "invoices.csv")


@require_safe
def invoices_zip(request: HttpRequest, token: str) -> HttpResponse | FileResponse:
    """GET /portal/<token>/invoices.zip: the PDFs of every invoice of the filter, at most
    ``exports.ZIP_MAX_INVOICES`` (above that 400 with the page and a message). Queries: the
    token, the count, the invoices; none per stored PDF."""
    account, invoice_filter, refused = _filtered(request, token)
    if refused is not None:
        return refused
    assert account is not None and invoice_filter is not None
    customer = account.customer
    matching = selectors.invoices_filtered(
        customer=customer, invoice_filter=invoice_filter, today=account.today
    )
    if matching.count() > exports.ZIP_MAX_INVOICES:
        message = _(
            "A ZIP holds at most %(max)s invoices. Narrow the filter (dates, status or search) "
            "and try again."
        ) % {"max": exports.ZIP_MAX_INVOICES}
        return _invoices_page(
            request, account, invoice_filter=None, error=message, error_field="zip"
        )
    archive = exports.invoices_zip(
        invoices=list(matching),
        company=customer.company,
        customer=customer,
        language=account.lang,
    )
    # FileResponse closes the spooled file when sent, and gives its Content-Length.
    return FileResponse(
        archive, as_attachment=True, filename="invoices.zip", content_type="application/zip"
    )


# Credit notes and payments ----------------------------------------------------------------

LIST_PAGE_SIZE = 25


def _list_page(
    request: HttpRequest, account: Account, *, active: str, template: str, rows_for: Any
) -> HttpResponse:
    context: dict[str, Any] = {**account_context(account, active=active), "rows": []}
    try:
        page_number = filters.page_parse(_params(request, ("page",)))
    except filters.FilterRefused as refused:
        return render(request, template, {**context, "error": refused.message}, status=400)
    items, paginator = rows_for(account)
    if page_number > paginator.num_pages:
        beyond = filters.page_refused(page_number)
        return render(request, template, {**context, "error": beyond.message}, status=400)
    page = paginator.page(page_number)
    context.update(
        rows=items(list(page.object_list)),
        page=page,
        num_pages=paginator.num_pages,
        count=paginator.count,
    )
    return render(request, template, context)


@require_safe
def credit_notes_page(request: HttpRequest, token: str) -> HttpResponse:
    """GET /portal/<token>/credit-notes. Queries: the token, the count, one page."""
    account = account_for_request(request, token)
    if account is None:
        return not_found(request)
    company = account.customer.company

    def rows_for(account: Account) -> tuple[Any, Paginator[Any]]:
        notes = selectors.credit_notes_for_customer(customer=account.customer)
        return (
            lambda page: presenters.credit_note_rows(
                notes=page, company=company, locale=account.lang
            ),
            Paginator(notes, LIST_PAGE_SIZE),
        )

    return _list_page(
        request,
        account,
        active="portal_credit_notes",
        template="portal/account/credit_notes.html",
        rows_for=rows_for,
    )


@require_safe
def payments_page(request: HttpRequest, token: str) -> HttpResponse:
    """GET /portal/<token>/payments. Queries: the token, the count, one page of payments with
    their invoices, the invoices' share links."""
    account = account_for_request(request, token)
    if account is None:
        return not_found(request)
    customer = account.customer

    def rows_for(account: Account) -> tuple[Any, Paginator[Any]]:
        payments = selectors.payments_for_customer(customer=customer)
        return (
            lambda page: presenters.payment_rows(
                payments=page,
                company=customer.company,
                customer=customer,
                token=account.token,
                locale=account.lang,
            ),
            Paginator(payments, LIST_PAGE_SIZE),
        )

    return _list_page(
        request,
        account,
        active="portal_payments",
        template="portal/account/payments.html",
        rows_for=rows_for,
    )


@require_safe
def payment_receipt(request: HttpRequest, token: str, pay_id: str) -> HttpResponse:
    """GET /portal/<token>/payments/<pay_id>/receipt.pdf: the receipt of one of this
    customer's payments; anyone else's (or an unknown id) answers the not-found page."""
    account = account_for_request(request, token)
    if account is None:
        return not_found(request)
    customer = account.customer
    payment = selectors.payment_for_customer(customer=customer, public_id=pay_id)
    if payment is None:
        return not_found(request)
    payment.invoice.company = customer.company
    payment.invoice.customer = customer
    body = receipts.receipt_pdf(payment=payment, language=account.lang)
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Length"] = str(len(body))
    return _attachment(response, receipts.receipt_pdf_filename(payment))
