"""``GET /api/v1/invoices/<id>/e-invoice?format=``: the invoice as an EU e-invoice (and the
same for credit notes): Factur-X (PDF/A-3 with the XML inside), XRechnung 3.0 (CII) or Peppol
BIS Billing 3.0 (UBL). 409 names the fields missing for a valid one."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils.http import content_disposition_header
from ninja import Router

from api.credit_notes import get_credit_note
from api.errors import ApiError
from api.examples import described
from api.invoices import get_invoice
from invoices.einvoice.services import EInvoiceFile, credit_note_einvoice, invoice_einvoice

router = Router(tags=["invoices"])

_FORMATS_TEXT = (
    "`format`: `facturx` (the invoice PDF as PDF/A-3b with `factur-x.xml`, EN 16931 profile), "
    "`xrechnung` (XRechnung 3.0, CII XML) or `ubl` (Peppol BIS Billing 3.0, UBL XML). Every "
    "document is checked against its XML schema before it is returned. When the data cannot "
    "make a valid e-invoice (a missing VAT id or address, a currency with three decimals) the "
    "answer is 409 with `error.missing_fields` naming what to fill in."
)

_RESPONSES = {
    "responses": {
        200: {
            "description": "The e-invoice",
            "content": {
                "application/pdf": {"schema": {"type": "string", "format": "binary"}},
                "application/xml": {"schema": {"type": "string"}},
            },
        }
    }
}


def _file_response(file: EInvoiceFile) -> HttpResponse:
    response = HttpResponse(file.content, content_type=file.content_type)
    response["Content-Disposition"] = content_disposition_header(True, file.filename) or ""
    response["Content-Length"] = str(len(file.content))
    return response


def _format(value: str) -> str:
    if not value:
        raise ApiError(400, "invalid", "format is required: facturx, xrechnung or ubl.", "format")
    return value


@router.get(
    "/invoices/{invoice_id}/e-invoice",
    response={200: None},
    **described(
        "Invoice as an e-invoice",
        "GET",
        "/invoices/inv_123/e-invoice?format=xrechnung",
        None,
        _FORMATS_TEXT,
    ),
    openapi_extra=_RESPONSES,
)
def invoice_einvoice_file(request: HttpRequest, invoice_id: str, format: str = "") -> HttpResponse:
    invoice = get_invoice(request, invoice_id)
    return _file_response(invoice_einvoice(invoice=invoice, fmt=_format(format)))


@router.get(
    "/credit-notes/{credit_note_id}/e-invoice",
    response={200: None},
    **described(
        "Credit note as an e-invoice",
        "GET",
        "/credit-notes/cn_123/e-invoice?format=ubl",
        None,
        "A credit note (type 381) referencing the invoice it corrects, as XML: `xrechnung` "
        "or `facturx` (CII) or `ubl`. The credit note must name its invoice (else 409).",
    ),
    openapi_extra=_RESPONSES,
)
def credit_note_einvoice_file(
    request: HttpRequest,
    credit_note_id: str,
    format: str = "",
) -> HttpResponse:
    note = get_credit_note(request, credit_note_id)
    return _file_response(credit_note_einvoice(note=note, fmt=_format(format)))
