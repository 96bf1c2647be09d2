"""The e-invoice of an issued invoice or credit note, validated before it is handed out.

Faces (the API, the admin, the customer pages) call :func:`invoice_einvoice` or
:func:`credit_note_einvoice`; they raise ``UnknownFormat`` (400), ``EInvoiceUnavailable`` (409,
naming what is missing) or, for a document that fails its own schema, ``EInvoiceInvalid``.
"""

from __future__ import annotations

from dataclasses import dataclass

from invoices.einvoice.cii import cii_xml
from invoices.einvoice.data import (
    FORMATS,
    EInvoiceData,
    EInvoiceUnavailable,
    UnknownFormat,
    buyer_party,
    credit_note_einvoice_data,
    invoice_einvoice_data,
    seller_party,
)
from invoices.einvoice.facturx_pdf import facturx_pdf
from invoices.einvoice.ubl import ubl_xml
from invoices.einvoice.validate import xsd_check
from invoices.models import CreditNote, Invoice, InvoiceStatus
from invoices.money import exponent
from invoices.pdf.html import invoice_pdf_language

# Product names, the same in every language (the customer pages' download links).
EINVOICE_LABELS = {
    "facturx": "Factur-X / ZUGFeRD (PDF)",
    "xrechnung": "XRechnung (XML)",
    "ubl": "Peppol UBL (XML)",
}

XML = "application/xml"
PDF = "application/pdf"


@dataclass(frozen=True)
class EInvoiceFile:
    content: bytes
    filename: str
    content_type: str


def format_check(value: str) -> str:
    if value not in FORMATS:
        raise UnknownFormat(value)
    return value


def _xml(data: EInvoiceData, fmt: str) -> bytes:
    if fmt == "ubl":
        xml = ubl_xml(data)
        xsd_check(xml, "ubl-creditnote" if data.type_code == "381" else "ubl-invoice")
        return xml
    xml = cii_xml(data, xrechnung=fmt == "xrechnung")
    xsd_check(xml, "cii")
    return xml


def _filename(number: str, fmt: str) -> str:
    safe = "".join(char if char.isalnum() or char in "-_" else "-" for char in number)
    return {
        "facturx": f"invoice-{safe}-factur-x.pdf",
        "xrechnung": f"invoice-{safe}-xrechnung.xml",
        "ubl": f"invoice-{safe}-ubl.xml",
    }[fmt]


def invoice_einvoice(*, invoice: Invoice, fmt: str, language: str = "") -> EInvoiceFile:
    """The ``fmt`` e-invoice of ``invoice`` (loaded with company and customer). Queries: the
    lines."""
    format_check(fmt)
    lines = list(invoice.lines.all())
    data = invoice_einvoice_data(invoice=invoice, fmt=fmt, lines=lines)
    xml = _xml(data, fmt)
    if fmt != "facturx":
        return EInvoiceFile(xml, _filename(invoice.number, fmt), XML)
    pdf = facturx_pdf(invoice=invoice, language=language or invoice_pdf_language(invoice), xml=xml)
    return EInvoiceFile(pdf, _filename(invoice.number, fmt), PDF)


def facturx_from_html(*, invoice: Invoice, html: str, language: str) -> bytes:
    """The Factur-X PDF of ``invoice`` from its PDF HTML (the standard PDF of companies that
    chose Factur-X). Raises like invoice_einvoice."""
    data = invoice_einvoice_data(invoice=invoice, fmt="facturx", lines=list(invoice.lines.all()))
    return facturx_pdf(invoice=invoice, language=language, xml=_xml(data, "facturx"), html=html)


def credit_note_einvoice(*, note: CreditNote, fmt: str) -> EInvoiceFile:
    """A credit note as XML (type 381 referencing its invoice): ``xrechnung`` or ``ubl``
    (``facturx`` gives the CII XML, as a credit note has no PDF of its own here)."""
    format_check(fmt)
    data = credit_note_einvoice_data(note=note, fmt=fmt)
    xml = _xml(data, fmt)
    name = _filename(note.number, fmt).replace("invoice-", "credit-note-").replace(".pdf", ".xml")
    return EInvoiceFile(xml, name, XML)


def einvoice_formats_offered(invoice: Invoice) -> list[str]:
    """The formats the customer pages offer for ``invoice`` (loaded with company and customer):
    the company's chosen ones, for an issued invoice whose parties carry what an e-invoice
    needs. No query (the lines are checked when the file is made)."""
    company = invoice.company
    chosen = [fmt for fmt in company.einvoice_formats or [] if fmt in FORMATS]
    if not chosen or invoice.status in (InvoiceStatus.DRAFT, InvoiceStatus.VOID):
        return []
    if exponent(invoice.currency) > 2:
        return []
    seller, buyer = seller_party(invoice), buyer_party(invoice)
    needed = [
        seller.name,
        seller.street,
        seller.postcode,
        seller.city,
        seller.country,
        seller.vat_id,
        seller.electronic_scheme,
        buyer.name,
        buyer.street,
        buyer.postcode,
        buyer.city,
        buyer.country,
        buyer.electronic_scheme,
    ]
    if not all(needed):
        return []
    offered = []
    for fmt in chosen:
        if fmt == "xrechnung" and not (
            seller.phone and seller.email and (invoice.buyer_snapshot or {}).get("buyer_reference")
        ):
            continue
        offered.append(fmt)
    return offered


__all__ = [
    "EINVOICE_LABELS",
    "EInvoiceFile",
    "EInvoiceUnavailable",
    "UnknownFormat",
    "credit_note_einvoice",
    "einvoice_formats_offered",
    "format_check",
    "invoice_einvoice",
]
