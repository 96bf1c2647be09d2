"""``GET /invoice/<token>/pdf``: the invoice PDF for whoever holds the share link.

``?inline=1`` shows it in the browser instead of downloading it: the invoice page's "PDF
preview" frames it, so that variant may be framed by our own pages (and only by them).
"""

from __future__ import annotations

from csp.constants import SELF
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from invoices.decorators import share_link_page
from invoices.models import Invoice
from invoices.pdf.http import pdf_response
from invoices.pdf.services import invoice_pdf_get_or_render


@require_GET
@share_link_page
def invoice_pdf(request: HttpRequest, invoice: Invoice, token: str) -> HttpResponse:
    # The same language as the page, so the two never disagree on how a number is written.
    language = request.LANGUAGE_CODE
    inline = request.GET.get("inline") == "1"
    response = pdf_response(
        invoice_pdf_get_or_render(invoice=invoice, language=language),
        inline=inline,
        retry=lambda: invoice_pdf_get_or_render(invoice=invoice, language=language),
    )
    if inline:
        response["X-Frame-Options"] = "SAMEORIGIN"
        response._csp_replace = {"frame-ancestors": [SELF]}  # type: ignore[attr-defined]
    return response
