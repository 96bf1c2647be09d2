"""Celery tasks of the invoices app. Each takes ids, loads, and calls one service."""

from __future__ import annotations

from celery import shared_task
from django.db import transaction

from invoices.models import Invoice


@shared_task(
    autoretry_for=(OSError,),  # storage hiccups; a template or data error would only repeat
    retry_backoff=True,
    max_retries=3,
    # A render is seconds of CPU: a stuck one must not hold a worker slot forever.
    soft_time_limit=120,
    time_limit=150,
)
def render_invoice_pdf(invoice_id: int, language: str | None = None) -> str:
    """Render and store the invoice's PDF (in ``language``, else the customer's or company's
    language) unless it is stored already; returns its fingerprint."""
    from invoices.pdf.html import invoice_pdf_language
    from invoices.pdf.services import invoice_pdf_render

    invoice = Invoice.objects.select_related("company", "customer").get(pk=invoice_id)
    language = language or invoice_pdf_language(invoice)
    return invoice_pdf_render(invoice=invoice, language=language).fingerprint


def queue_invoice_pdf_render(*, invoice_id: int) -> None:
    """Pre-render the invoice's PDF once the current transaction commits (the worker must see
    the committed invoice). ``robust``: a failed render or broker must not fail the caller's
    request; the next download renders the PDF instead. ``ignore_result``: nobody reads it,
    and subscribing to Celery's result store would cost the request about 20 seconds of retries
    when Redis is down."""
    transaction.on_commit(
        lambda: render_invoice_pdf.apply_async(args=[invoice_id], ignore_result=True),
        robust=True,
    )
