"""``GET /api/v1/invoices/<id>/pdf``: the invoice PDF, for the API key's company."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import Router

from api.errors import ApiError
from api.examples import described
from api.invoices import get_invoice
from core.i18n import supported_languages
from invoices.pdf.html import invoice_pdf_language
from invoices.pdf.http import pdf_response
from invoices.pdf.services import invoice_pdf_get_or_render

router = Router(tags=["invoices"])


@router.get(
    "/invoices/{invoice_id}/pdf",
    response={200: None},
    **described(
        "Invoice PDF",
        "GET",
        "/invoices/inv_123/pdf?lang=de",
        None,
        "The A4 PDF of the invoice (application/pdf, as an attachment), in `lang` "
        "(en, de, fr, es) or else the customer's or the company's language.",
    ),
    openapi_extra={
        "responses": {
            200: {
                "description": "The PDF",
                "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
def invoice_pdf(request: HttpRequest, invoice_id: str, lang: str = "") -> HttpResponse:
    invoice = get_invoice(request, invoice_id)
    if lang and lang not in supported_languages():
        raise ApiError(400, "invalid", "lang must be one of en, de, fr, es.", "lang")
    language = lang or invoice_pdf_language(invoice)
    return pdf_response(
        invoice_pdf_get_or_render(invoice=invoice, language=language),
        retry=lambda: invoice_pdf_get_or_render(invoice=invoice, language=language),
    )
