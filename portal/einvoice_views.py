"""``GET /invoice/<token>/e-invoice/<format>``: the invoice as an e-invoice (Factur-X PDF,
XRechnung or Peppol UBL XML) for whoever holds the share link, when the company offers that
format. Anything else (a bad token, a format not offered, data that cannot make one) is the
one not-found page: the invoice page offers only what can be made."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET

from core.errors import ApplicationError
from core.http import not_found
from invoices.decorators import share_link_page
from invoices.einvoice.services import einvoice_formats_offered, invoice_einvoice
from invoices.models import Invoice

logger = logging.getLogger(__name__)


@require_GET
@share_link_page
def invoice_einvoice_download(
    request: HttpRequest, invoice: Invoice, token: str, fmt: str
) -> HttpResponse:
    if fmt not in einvoice_formats_offered(invoice):
        return not_found(request)
    try:
        file = invoice_einvoice(invoice=invoice, fmt=fmt, language=request.LANGUAGE_CODE)
    except ApplicationError as exc:
        logger.warning("e-invoice %s of %s refused: %s", fmt, invoice.public_id, exc.message)
        return not_found(request)
    response = HttpResponse(file.content, content_type=file.content_type)
    response["Content-Disposition"] = content_disposition_header(True, file.filename) or ""
    return response
