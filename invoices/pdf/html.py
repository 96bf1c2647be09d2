"""The HTML an invoice PDF is rendered from: the shared document partials, the logo inline, the
page footer in the reader's language. Both the plain PDF and the Factur-X PDF start here."""

from __future__ import annotations

import base64
import io
import logging
import mimetypes
import re

from django.template.loader import render_to_string
from django.utils import translation
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from core.images import image_size, size_allowed
from invoices.document import InvoiceDocument, invoice_document
from invoices.models import Invoice
from invoices.transfer import bank_transfer

logger = logging.getLogger(__name__)

TEMPLATE = "pdf/invoice.html"


def invoice_pdf_language(invoice: Invoice) -> str:
    """The language of a PDF nobody asked for in particular (the one finalize pre-renders):
    the customer's, else the company's."""
    return invoice.customer.preferred_language or invoice.company.language or "en"


def logo_bytes(invoice: Invoice) -> bytes:
    logo = invoice.company.logo
    if not logo:
        return b""
    try:
        with logo.open("rb") as stored:
            data: bytes = stored.read()
    except OSError:
        # A missing logo file must not cost the customer their PDF; it renders without.
        logger.warning("logo of company %s is unreadable", invoice.company_id)
        return b""
    size = image_size(io.BytesIO(data))
    if size is not None and not size_allowed(size):
        # Stored before the upload check existed: decoding it would slow every render.
        logger.warning(
            "logo of company %s skipped: %dx%d pixels is beyond the limit",
            invoice.company_id,
            *size,
        )
        return b""
    return data


def _logo_data_uri(invoice: Invoice, logo: bytes) -> str:
    # Inline, so the renderer reads no file and no URL for it, whatever the storage backend.
    if not logo:
        return ""
    mime = mimetypes.guess_type(invoice.company.logo.name or "")[0] or "image/png"
    return f"data:{mime};base64,{base64.b64encode(logo).decode('ascii')}"


def _css_string(text: str) -> str:
    # A CSS string literal; "<" escaped too, as this lands inside a <style> element.
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
    return '"' + escaped.replace("<", "\\3c ") + '"'


def page_footer() -> str:
    """The CSS ``content`` of the "Page N of M" footer, in the active language."""
    parts = re.split(r"(%\(pages?\)s)", _("Page %(page)s of %(pages)s"))
    counters = {"%(page)s": "counter(page)", "%(pages)s": "counter(pages)"}
    return " ".join(counters.get(part) or _css_string(part) for part in parts if part)


def invoice_pdf_html(
    *,
    invoice: Invoice,
    language: str,
    document: InvoiceDocument | None = None,
    logo: bytes | None = None,
) -> str:
    """The HTML the PDF is rendered from (the shared document partials)."""
    if logo is None:
        logo = logo_bytes(invoice)
    with translation.override(language):
        if document is None:
            document = invoice_document(invoice=invoice, locale=language)
        context = {
            "doc": document,
            "logo_src": _logo_data_uri(invoice, logo),
            "language": language,
            # Built from a translation and escaped for CSS above, not user input.
            "page_footer": mark_safe(page_footer()),  # noqa: S308
            "transfer": bank_transfer(invoice=invoice, locale=language),
        }
        return render_to_string(TEMPLATE, context)
