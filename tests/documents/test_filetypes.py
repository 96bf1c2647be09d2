"""Which files may be shared: decided from the content, never the name."""

from __future__ import annotations

import io

import pytest

from portal.documents import filetypes
from portal.documents.filetypes import FileRefused, sniff

from .conftest import CSV_TEXT, DOCX, JPEG, PDF, PNG, XLSX, ooxml


@pytest.mark.parametrize(
    "data,content_type,extension",
    [
        (PDF, filetypes.PDF, "pdf"),
        (PNG, filetypes.PNG, "png"),
        (JPEG, filetypes.JPEG, "jpg"),
        (CSV_TEXT, filetypes.CSV, "csv"),
        ("\ufeffname;Betrag\nMüller;12,50\n".encode(), filetypes.CSV, "csv"),
        ("name;Betrag\nMüller;12,50\n".encode("cp1252"), filetypes.CSV, "csv"),
        (XLSX, filetypes.XLSX, "xlsx"),
        (DOCX, filetypes.DOCX, "docx"),
    ],
)
def test_it_accepts_the_allowed_types(data: bytes, content_type: str, extension: str) -> None:
    sniffed = sniff(io.BytesIO(data))
    assert (sniffed.content_type, sniffed.extension, sniffed.size) == (
        content_type,
        extension,
        len(data),
    )


@pytest.mark.parametrize(
    "data",
    [
        b"",  # empty
        b"GIF89a" + b"\x00" * 40,  # an image type not on the list
        b"MZ\x90\x00" + b"\x00" * 60,  # a Windows program
        b"<html><script>alert(1)</script></html>",  # markup renamed .csv
        b'<svg xmlns="http://www.w3.org/2000/svg"></svg>',
        b"a,b\n\x00\x01\x02binary",  # control characters are not text
        b"PK\x03\x04 not really a zip",
        ooxml("application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"),
        ooxml(
            "application/vnd.ms-excel.sheet.macroEnabled.main+xml",
            extra={"xl/vbaProject.bin": b"macro"},
        ),
        # Declares a workbook but carries macros all the same.
        ooxml(
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
            extra={"xl/vbaProject.bin": b"macro"},
        ),
    ],
)
def test_it_refuses_other_content(data: bytes) -> None:
    with pytest.raises(FileRefused):
        sniff(io.BytesIO(data))


def test_it_refuses_more_than_10_mb() -> None:
    at_limit = PDF + b"0" * (filetypes.MAX_BYTES - len(PDF))
    assert sniff(io.BytesIO(at_limit)).size == filetypes.MAX_BYTES
    with pytest.raises(FileRefused, match="10 MB"):
        sniff(io.BytesIO(at_limit + b"0"))
