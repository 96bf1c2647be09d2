"""The invoice list's exports: the CSV for the customer's accountant and a ZIP of the PDFs.

CSV (the contract): UTF-8 with a byte-order mark (spreadsheets then read accents right), the
header row ``number,issue_date,due_date,status,currency,total,amount_paid,amount_due``, amounts
as major-unit decimals with exactly the currency's decimals (JPY none), and every text cell
that a spreadsheet would run as a formula (``= + - @``, or a tab or carriage return before one)
prefixed with ``'``.

ZIP: each invoice's PDF, taken from the PDF store (rendered there first if it is missing),
named after the invoice number, written to a spooled temporary file so memory stays bounded
whatever the number of invoices.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
import zipfile
from collections.abc import Iterable
from typing import IO

from invoices.models import Company, Customer, Invoice
from invoices.money import to_major
from invoices.pdf.services import invoice_pdf_get_or_render

CSV_HEADER = (
    "number",
    "issue_date",
    "due_date",
    "status",
    "currency",
    "total",
    "amount_paid",
    "amount_due",
)
BOM = "\ufeff"
# At most this many invoices in one ZIP (above it the customer narrows the filter).
ZIP_MAX_INVOICES = 200
# The ZIP lives in memory up to this size, then in a temporary file.
_SPOOL_BYTES = 4 * 1024 * 1024
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")


def safe_cell(value: str) -> str:
    """``value`` as a spreadsheet shows it: text that starts like a formula gets a ``'``;
    numbers (``-12.50``) stay numbers."""
    if value.startswith(_FORMULA_START) and not _NUMBER.match(value):
        return "'" + value
    return value


def csv_row(invoice: Invoice) -> list[str]:
    """One invoice (annotated with ``due``) as the CSV's cells."""
    currency = invoice.currency
    due = int(getattr(invoice, "due", invoice.amount_due))
    cells = [
        invoice.number,
        invoice.issue_date.isoformat(),
        invoice.due_date.isoformat(),
        str(invoice.status),
        currency.upper(),
        str(to_major(invoice.total, currency)),
        str(to_major(invoice.amount_paid, currency)),
        str(to_major(due, currency)),
    ]
    return [safe_cell(cell) for cell in cells]


def invoices_csv(invoices: Iterable[Invoice]) -> bytes:
    """The CSV of ``invoices``, BOM and header included."""
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for invoice in invoices:
        writer.writerow(csv_row(invoice))
    return out.getvalue().encode("utf-8")


def _entry_name(number: str) -> str:
    """An invoice number as a file name inside the ZIP: no folders, nothing hidden."""
    name = re.sub(r"[^\w.\- ]+", "_", number).strip(". ") or "invoice"
    return f"{name}.pdf"


def invoices_zip(
    *, invoices: list[Invoice], company: Company, customer: Customer, language: str
) -> IO[bytes]:
    """A ZIP of the PDFs of ``invoices`` (of ``customer``), rewound, in a spooled temporary
    file the caller closes. No query per invoice for finalized invoices whose PDF is stored."""
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115 (returned)
    used: set[str] = set()
    # PDFs are compressed already: stored, not deflated again.
    with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_STORED) as archive:
        for invoice in invoices:
            # The rows belong to the portal's customer and company by the query.
            invoice.company = company
            invoice.customer = customer
            pdf = invoice_pdf_get_or_render(invoice=invoice, language=language)
            try:
                body = pdf.read()
            except FileNotFoundError:  # a newer version replaced it since it was found
                body = invoice_pdf_get_or_render(invoice=invoice, language=language).read()
            name = _entry_name(invoice.number)
            if name in used:  # two numbers that differ only in left-out characters
                name = f"{name[:-4]}-{invoice.sequence}.pdf"
            used.add(name)
            archive.writestr(name, body)
    spool.seek(0)
    return spool
