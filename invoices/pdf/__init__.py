"""Invoice PDFs: one A4 rendering of the shared invoice document, stored by fingerprint.

services.invoice_pdf_get_or_render is the entry point for every download (customer link, API,
admin, embed); http.pdf_response turns its result into the HTTP answer; invoices.tasks renders
in Celery workers (and ahead of time on finalize).
"""
