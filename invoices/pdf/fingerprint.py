"""The fingerprint of an invoice PDF: a hash of everything that shows in it.

Inputs: the invoice's fields and amounts (paid and due included), the status as the customer
reads it (overdue and partly paid change with time and payments), every line of a draft (a
finalized invoice's lines are frozen, see lines_are_frozen), the seller's and
bill-to details, the brand colour, the logo file's bytes, the language and its translations,
the templates and stylesheet, and TEMPLATE_VERSION. They are hashed raw (no formatting, no
rendering), so a download finds its stored file in a millisecond or two.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.conf import settings

from invoices.models import Invoice, InvoiceStatus

# Bump when the PDF changes in a way the inputs below do not capture (a WeasyPrint or Babel
# upgrade, the fonts, the renderer's options, a new field in the shared document).
TEMPLATE_VERSION = "1"

# The line fields that show (the values_list / attribute order of LINE_FIELDS is the hash's).
LINE_FIELDS = (
    "position",
    "description",
    "quantity",
    "unit_amount",
    "tax_rate",
    "amount",
    "tax_amount",
)

# What the PDF is made of besides data, relative to the project root.
_TEMPLATE_SOURCES = ("templates/pdf", "templates/invoices/partials", "static/pdf", "static/fonts")


def _digest_files(paths: Sequence[Path], root: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@functools.cache
def templates_digest() -> str:
    """A hash of the templates, stylesheet and fonts, computed once per process: editing a
    template invalidates every stored PDF at the next deploy, without remembering to bump."""
    root = Path(settings.BASE_DIR)
    files = [
        path
        for folder in _TEMPLATE_SOURCES
        for path in sorted((root / folder).rglob("*"))
        if path.is_file()
    ]
    return _digest_files(files, root)


@functools.cache
def translations_digest(language: str) -> str:
    """A hash of the language's compiled translations (labels like "Amount due")."""
    files = [
        Path(folder) / language / "LC_MESSAGES" / "django.mo" for folder in settings.LOCALE_PATHS
    ]
    existing = [path for path in files if path.is_file()]
    return _digest_files(existing, Path("/")) if existing else ""


def lines_are_frozen(invoice: Invoice) -> bool:
    """Whether the invoice's lines can no longer change: once finalized, an invoice is a legal
    document and its lines are read-only (the admin's line inline is for drafts only, the API
    has no line edits). Their content is then covered by the invoice's identity, and a
    download needs no query for them. Code that ever edits a finalized invoice's lines must
    make this return False for such invoices."""
    return invoice.status != InvoiceStatus.DRAFT


def line_values(line: Any) -> tuple[Any, ...]:
    """A line's visible fields, from a LineItem (same order as a values_list of LINE_FIELDS)."""
    return tuple(getattr(line, field) for field in LINE_FIELDS)


def invoice_pdf_fingerprint(
    *,
    invoice: Invoice,
    status: str,
    lines: Sequence[tuple[Any, ...]] | None,
    logo: bytes,
    language: str,
) -> str:
    """A hex SHA-256 naming one rendering of one invoice; equal inputs, equal fingerprint.

    ``invoice`` is loaded with company and customer; ``status`` is the status the customer
    reads (portal.presenters.invoice_status_badge key); ``lines`` are LINE_FIELDS tuples, or
    None when lines_are_frozen(invoice).
    """
    company, customer = invoice.company, invoice.customer
    payload = {
        "invoice": [
            invoice.public_id,
            invoice.number,
            status,
            invoice.currency,
            invoice.issue_date,
            invoice.due_date,
            invoice.notes,
            invoice.subtotal,
            invoice.tax_total,
            invoice.total,
            invoice.amount_paid,
        ],
        "lines": "frozen" if lines is None else list(lines),
        "seller": [
            company.name,
            company.email,
            company.address,
            company.tax_id,
            company.brand_color,
        ],
        "logo": hashlib.sha256(logo).hexdigest() if logo else "",
        "bill_to": [customer.name, customer.email, *customer.address_lines],
        "language": language,
        "translations": translations_digest(language),
        "template_version": TEMPLATE_VERSION,
        "templates": templates_digest(),
    }
    encoded = json.dumps(payload, ensure_ascii=False, default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()
