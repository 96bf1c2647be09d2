"""Invoice PDFs: find the stored one for the invoice as it is now, or render it.

A download computes the fingerprint (no query for a finalized invoice, no rendering). A stored file
with that fingerprint is served as is. Otherwise the render goes to a Celery worker (renders
are slow and memory-hungry: they belong in workers, not web processes) and the request waits a
few seconds for it; when no worker answers in time, the request renders the PDF itself, so a
customer is never left without it.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, replace
from typing import Any

from django.conf import settings
from django.utils import translation

from core.errors import ApplicationError
from invoices.document import (
    document_fingerprint,
    invoice_document,
    line_values,
    lines_are_frozen,
)
from invoices.einvoice.services import facturx_from_html
from invoices.models import Invoice
from invoices.pdf import storage
from invoices.pdf.html import invoice_pdf_html, logo_bytes
from invoices.pdf.render import render_pdf
from invoices.selectors import LINE_FIELDS
from invoices.tasks import render_invoice_pdf

logger = logging.getLogger(__name__)

# How long a download waits for a worker before rendering in the request.
DEFAULT_WAIT_SECONDS = 5.0


@dataclass(frozen=True)
class PdfFile:
    """A stored invoice PDF."""

    name: str  # the storage name
    filename: str  # what the customer's browser saves it as
    fingerprint: str
    # True when this call rendered it (in the request or by the worker it waited for).
    rendered: bool

    def read(self) -> bytes:
        return storage.pdf_read(self.name)


@dataclass(frozen=True)
class _Fingerprinted:
    fingerprint: str
    name: str
    logo: bytes


def invoice_pdf_filename(invoice: Invoice) -> str:
    return f"invoice-{invoice.number}.pdf"


def _fingerprinted(
    invoice: Invoice, language: str, lines: list[tuple[Any, ...]] | None
) -> _Fingerprinted:
    logo = logo_bytes(invoice)
    fingerprint = document_fingerprint(
        invoice=invoice,
        language=language,
        surface="pdf",
        lines=lines,
        logo=hashlib.sha256(logo).hexdigest() if logo else "",
    )
    name = storage.pdf_name(public_id=invoice.public_id, language=language, fingerprint=fingerprint)
    return _Fingerprinted(fingerprint=fingerprint, name=name, logo=logo)


def _pdf_bytes(invoice: Invoice, language: str, html: str) -> bytes:
    """The PDF of ``html``: the Factur-X one (PDF/A-3b with the XML) when the company made it
    its standard PDF and the invoice makes a valid e-invoice, else the plain one."""
    if invoice.company.facturx_as_pdf and invoice.status != "draft":
        try:
            return facturx_from_html(invoice=invoice, html=html, language=language)
        except ApplicationError as exc:
            logger.info("invoice %s: plain PDF (%s)", invoice.public_id, exc.message)
    return render_pdf(html)


def _render_and_store(invoice: Invoice, language: str) -> PdfFile:
    # One read of the lines feeds both the fingerprint and the document, so the stored file
    # holds exactly what its name says even if the invoice is edited meanwhile.
    line_items = list(invoice.lines.all())
    lines = None if lines_are_frozen(invoice) else [line_values(line) for line in line_items]
    current = _fingerprinted(invoice, language, lines)
    with translation.override(language):
        document = invoice_document(invoice=invoice, locale=language, lines=line_items)
    html = invoice_pdf_html(
        invoice=invoice, language=language, document=document, logo=current.logo
    )
    storage.pdf_save(name=current.name, content=_pdf_bytes(invoice, language, html))
    return PdfFile(
        name=current.name,
        filename=invoice_pdf_filename(invoice),
        fingerprint=current.fingerprint,
        rendered=True,
    )


def _current(invoice: Invoice, language: str) -> PdfFile:
    """The PDF the invoice's current content would be stored as (it may not exist yet).
    No query for a finalized invoice (its lines are frozen); one for a draft's lines."""
    lines = None if lines_are_frozen(invoice) else list(invoice.lines.values_list(*LINE_FIELDS))
    current = _fingerprinted(invoice, language, lines)
    return PdfFile(
        name=current.name,
        filename=invoice_pdf_filename(invoice),
        fingerprint=current.fingerprint,
        rendered=False,
    )


def invoice_pdf_render(*, invoice: Invoice, language: str) -> PdfFile:
    """Render and store the invoice's PDF now, unless one with its fingerprint is stored.
    ``invoice`` must be loaded with its company and customer. For workers and scripts."""
    pdf = _current(invoice, language)
    if storage.pdf_exists(pdf.name):
        return pdf
    return _render_and_store(invoice, language)


def _wait_for_worker(invoice: Invoice, language: str, name: str, wait_seconds: float) -> bool:
    """Queue the render and wait up to ``wait_seconds`` for the file; True if it came.

    Only the storage is watched, never Celery's result store: that is the same Redis as the
    broker, and when it is down Celery's result client retries for about 20 seconds (on
    queueing and on every poll) before it gives up, far beyond ``wait_seconds``. A failed
    worker render thus costs the wait; the request then renders the PDF itself.
    """
    deadline = time.monotonic() + wait_seconds
    try:
        # Not transaction.on_commit: nothing of ours is uncommitted, and we wait for it now.
        render_invoice_pdf.apply_async(args=[invoice.pk, language], ignore_result=True)
    except Exception:
        # A broker outage must not cost the customer their PDF.
        logger.exception("could not queue the PDF render of invoice %s", invoice.public_id)
        return False
    delay = 0.02
    while True:
        if storage.pdf_exists(name):
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, 0.25)


def invoice_pdf_get_or_render(
    *, invoice: Invoice, language: str, wait_seconds: float | None = None
) -> PdfFile:
    """The PDF of ``invoice`` as it is now, in ``language``: the stored one when its
    fingerprint matches, else rendered by a worker (waiting up to ``wait_seconds``) or, failing
    that, here. ``invoice`` must be loaded with its company and customer.

    Queries: none when stored (one for a draft's lines); the render's own otherwise.
    """
    pdf = _current(invoice, language)
    if storage.pdf_exists(pdf.name):
        return pdf
    if wait_seconds is None:
        wait_seconds = float(getattr(settings, "PDF_RENDER_WAIT_SECONDS", DEFAULT_WAIT_SECONDS))
    if wait_seconds > 0 and _wait_for_worker(invoice, language, pdf.name, wait_seconds):
        return replace(pdf, rendered=True)
    logger.info("rendering the PDF of invoice %s in the request", invoice.public_id)
    return _render_and_store(invoice, language)
