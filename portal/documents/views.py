"""The customer's shared documents: ``/portal/<token>/documents`` lists them and
``/portal/<token>/documents/<doc_id>`` downloads one. The portal token is the credential (a bad
one gets the one not-found page), and a document the customer may not open — another
customer's or company's, a staff-only one, a draft invoice's — gets the same page."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from babel.units import format_unit
from django.http import FileResponse, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from core.http import not_found
from invoices.document import date_display
from invoices.selectors import customer_for_portal_token
from invoices.timezones import company_date
from portal.account.layout import account_context, account_for_request

from . import filetypes
from .models import Document
from .selectors import document_for_customer, documents_for_customer

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DocumentRow:
    title: str
    kind: str
    size: str
    date: str
    invoice_number: str
    url: str


def kind_label(content_type: str) -> str:
    return {
        filetypes.PDF: _("PDF document"),
        filetypes.PNG: _("PNG image"),
        filetypes.JPEG: _("JPEG image"),
        filetypes.CSV: _("CSV spreadsheet"),
        filetypes.XLSX: _("Excel workbook"),
        filetypes.DOCX: _("Word document"),
    }.get(content_type, _("File"))


def size_label(size: int, locale: str) -> str:
    if size >= 1024 * 1024:
        return format_unit(
            round(size / (1024 * 1024), 1), "digital-megabyte", "short", locale=locale
        )
    return format_unit(max(1, round(size / 1024)), "digital-kilobyte", "short", locale=locale)


def _row(document: Document, *, token: str, lang: str, company: object) -> DocumentRow:
    return DocumentRow(
        title=document.title,
        kind=kind_label(document.content_type),
        size=size_label(document.size, lang),
        date=date_display(company_date(company, document.created_at), lang),  # type: ignore[arg-type]
        invoice_number=document.invoice.number if document.invoice is not None else "",
        url=f"/portal/{token}/documents/{document.public_id}",
    )


@require_safe
def documents_page(request: HttpRequest, token: str) -> HttpResponse:
    # Queries: the customer with its company (the token), the documents with their invoices
    # (which also decide the Documents tab: no query of its own).
    account = account_for_request(request, token)
    if account is None:
        return not_found(request)
    company = account.customer.company
    rows = [
        _row(document, token=token, lang=account.lang, company=company)
        for document in documents_for_customer(customer=account.customer)
    ]
    context = {
        **account_context(account, active="portal_documents", has_documents=bool(rows)),
        "documents": rows,
    }
    return render(request, "portal/documents.html", context)


@require_safe
def document_download(request: HttpRequest, token: str, doc_id: str) -> HttpResponseBase:
    # Queries: the customer (the token), the document if this customer may open it.
    customer = customer_for_portal_token(token)
    if customer is None:
        return not_found(request)
    document = document_for_customer(customer=customer, public_id=doc_id)
    if document is None:
        return not_found(request)
    try:
        handle = document.file.open("rb")
    except OSError:
        logger.warning("documents: the file of %s is missing from storage", document.public_id)
        return not_found(request)
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=document.filename,
        content_type=document.content_type,
    )
    # Never shown inline, never sniffed into something else, never cached.
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
