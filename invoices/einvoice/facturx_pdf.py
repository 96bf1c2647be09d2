"""Factur-X: the invoice PDF as PDF/A-3b with its CII XML embedded.

WeasyPrint renders the same HTML as the customer's PDF in its PDF/A-3b variant (embedded fonts,
an sRGB output intent, XMP metadata); the factur-x library then embeds ``factur-x.xml`` as an
associated file (one ``/AF`` entry, ``/AFRelationship /Alternative``) and writes the XMP with
the PDF/A identification and the Factur-X extension schema (DocumentType INVOICE,
ConformanceLevel EN 16931).
"""

from __future__ import annotations

from invoices.models import Invoice
from invoices.pdf.html import invoice_pdf_html
from invoices.pdf.render import render_pdf


def facturx_pdf(*, invoice: Invoice, language: str, xml: bytes, html: str = "") -> bytes:
    """``html``: the invoice's PDF HTML when the caller has it already."""
    from facturx import generate_from_binary

    html = html or invoice_pdf_html(invoice=invoice, language=language)
    pdf = render_pdf(html, variant="pdf/a-3b")
    seller = invoice.company.name
    result: bytes = generate_from_binary(
        pdf,
        xml,
        flavor="factur-x",
        level="en16931",
        check_xsd=False,  # checked before (invoices.einvoice.validate), with the same XSD
        pdf_metadata={
            "author": seller,
            "keywords": "Factur-X, Invoice",
            "title": f"{seller}: Invoice {invoice.number}",
            "subject": f"Factur-X invoice {invoice.number} dated "
            f"{invoice.issue_date.isoformat()} issued by {seller}",
        },
        lang=language,
        afrelationship="alternative",
    )
    return result
