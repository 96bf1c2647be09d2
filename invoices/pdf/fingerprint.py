"""The fingerprint of an invoice PDF: a hash of everything that shows in it.

The PDF is a function of the invoice document (portal.presenters.InvoiceDocument: invoice
fields, every line, paid and due amounts, status as the customer reads it, seller and bill-to
details, brand colour, all formatted in the language), the logo file's bytes, the language, the
templates and stylesheet, and TEMPLATE_VERSION. Hashing those inputs, rather than the PDF,
lets a download find the stored file without rendering anything.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from pathlib import Path

from django.conf import settings

from portal.presenters import InvoiceDocument

# Bump when the PDF changes in a way the files hashed below do not capture (a WeasyPrint
# upgrade, the fonts, the renderer's options, translations).
TEMPLATE_VERSION = "1"

# The template files and stylesheet the PDF is made of, relative to the project root.
_TEMPLATE_SOURCES = ("templates/pdf", "templates/invoices/partials", "static/pdf")


@functools.cache
def templates_digest() -> str:
    """A hash of the PDF's templates and stylesheet, computed once per process: editing a
    template invalidates every stored PDF at the next deploy, without remembering to bump."""
    digest = hashlib.sha256()
    root = Path(settings.BASE_DIR)
    for folder in _TEMPLATE_SOURCES:
        for path in sorted((root / folder).rglob("*")):
            if path.is_file():
                digest.update(str(path.relative_to(root)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def invoice_pdf_fingerprint(
    *, public_id: str, document: InvoiceDocument, logo: bytes, language: str
) -> str:
    """A hex SHA-256 naming one rendering of one invoice; equal inputs, equal fingerprint."""
    fields = dataclasses.asdict(document)
    # Where the logo lies on disk does not show; its bytes (hashed below) do.
    for party in ("seller", "bill_to"):
        fields[party].pop("logo_path", None)
        fields[party].pop("logo_url", None)
    payload = {
        "invoice": public_id,
        "document": fields,
        "logo": hashlib.sha256(logo).hexdigest() if logo else "",
        "language": language,
        "template_version": TEMPLATE_VERSION,
        "templates": templates_digest(),
    }
    encoded = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()
