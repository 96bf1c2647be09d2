"""Shared documents: real files (built in memory) stored in a temporary MEDIA_ROOT."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from invoices.models import Company, Customer
from portal.documents.models import Document, DocumentAudience, DocumentVisibility
from portal.documents.services import document_save
from tests import factories

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 40
CSV_TEXT = b"number,amount\nINV-1,12.50\nINV-2,7.00\n"


def ooxml(main_part: str, *, extra: dict[str, bytes] | None = None) -> bytes:
    """A minimal OOXML package declaring ``main_part`` as its main content type."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        package.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Override PartName="/main.xml" ContentType="'
            + main_part
            + '"/></Types>',
        )
        package.writestr("main.xml", "<x/>")
        for name, data in (extra or {}).items():
            package.writestr(name, data)
    return buffer.getvalue()


XLSX = ooxml("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml")
DOCX = ooxml("application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml")


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Iterator[Path]:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    yield tmp_path / "media"


def upload(data: bytes, name: str = "file.bin") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def make_document(
    company: Company,
    *,
    audience: str = DocumentAudience.CUSTOMER,
    customer: Customer | None = None,
    invoice: Any = None,
    visibility: str = DocumentVisibility.CUSTOMERS,
    data: bytes = PDF,
    title: str = "Price list 2026",
) -> Document:
    uploaded = upload(data, "upload.bin")
    document = Document(
        company=company,
        title=title,
        audience=audience,
        customer=customer if audience == DocumentAudience.CUSTOMER else None,
        invoice=invoice if audience == DocumentAudience.INVOICE else None,
        visibility=visibility,
        file=uploaded,
    )
    return document_save(document=document, upload=uploaded, changed=[])


@pytest.fixture
def portal_token(customer: Customer) -> str:
    return factories.portal_token(customer)
