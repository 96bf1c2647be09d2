"""The HTTP answer carrying an invoice PDF: the same for customers, the API and the admin."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpResponse
from django.utils.http import content_disposition_header

from invoices.pdf.services import PdfFile


def pdf_response(
    pdf: PdfFile, *, inline: bool = False, retry: Callable[[], PdfFile]
) -> HttpResponse:
    """``pdf`` as a download (or ``inline``, for a preview frame). ``retry`` gets the PDF
    again if the stored file vanished since it was found (a newer version replaced it)."""
    try:
        body = pdf.read()
    except FileNotFoundError:
        pdf = retry()
        body = pdf.read()
    response = HttpResponse(body, content_type="application/pdf")
    disposition = content_disposition_header(not inline, pdf.filename)
    if disposition:  # None only for an inline file without a name; ours always has one
        response["Content-Disposition"] = disposition
    response["Content-Length"] = str(len(body))
    return response
