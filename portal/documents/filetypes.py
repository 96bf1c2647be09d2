"""Which files may be shared, decided from their content, never from a name or a browser.

Allowed: PDF, PNG, JPEG (magic numbers, through the ``filetype`` library), XLSX and DOCX (ZIP
packages whose ``[Content_Types].xml`` declares a workbook or a document main part; macro-
enabled ones are not), and CSV (no magic number: UTF-8 or Windows-1252 text without control
characters or markup). At most ``MAX_BYTES``.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from typing import IO

import filetype
from django.utils.translation import gettext as _

from core.errors import ApplicationError

MAX_BYTES = 10 * 1024 * 1024

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

EXTENSIONS = {PDF: "pdf", PNG: "png", JPEG: "jpg", CSV: "csv", XLSX: "xlsx", DOCX: "docx"}

# The main part an OOXML package must declare to be that kind of file.
_OOXML_MAIN_PARTS = {
    XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
    DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
}
# [Content_Types].xml of a real package is a few kilobytes; more is not read (ZIP bombs).
_CONTENT_TYPES_MAX = 256 * 1024
_CONTENT_TYPE_RE = re.compile(rb'ContentType\s*=\s*"([^"]+)"')
# Text a CSV may hold: anything but control characters other than tab, CR and LF.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class FileRefused(ApplicationError):
    def __init__(self, message: str) -> None:
        super().__init__("file_refused", message, "file", 400)


@dataclass(frozen=True)
class Sniffed:
    content_type: str
    extension: str
    size: int


def sniff(file: IO[bytes]) -> Sniffed:
    """The type of ``file`` (any readable, seekable binary file), or FileRefused."""
    file.seek(0, 2)
    size = file.tell()
    file.seek(0)
    if size == 0:
        raise FileRefused(_("The file is empty."))
    if size > MAX_BYTES:
        raise FileRefused(_("The file is larger than 10 MB."))
    head = file.read(8192)
    file.seek(0)
    guessed = filetype.guess_mime(head)
    if guessed in (PDF, PNG, JPEG):
        return Sniffed(guessed, EXTENSIONS[guessed], size)
    if head.startswith(b"PK\x03\x04"):
        kind = _ooxml_kind(file)
        file.seek(0)
        return Sniffed(kind, EXTENSIONS[kind], size)
    if guessed is None and _is_csv_text(file.read()):
        file.seek(0)
        return Sniffed(CSV, "csv", size)
    file.seek(0)
    raise FileRefused(_("Only PDF, PNG, JPEG, CSV, XLSX and DOCX files can be shared."))


def _ooxml_kind(file: IO[bytes]) -> str:
    refused = FileRefused(_("Only XLSX and DOCX files can be shared among Office files."))
    try:
        with zipfile.ZipFile(file) as package:
            names = set(package.namelist())
            info = package.getinfo("[Content_Types].xml")
            if info.file_size > _CONTENT_TYPES_MAX:
                raise refused
            declared = set(_CONTENT_TYPE_RE.findall(package.read(info)))
    except (zipfile.BadZipFile, KeyError, OSError, RuntimeError, EOFError):
        raise refused from None
    # Macros are code: a macro-enabled workbook or document is not shared, whatever it claims.
    if any(name.lower().endswith("vbaproject.bin") for name in names):
        raise refused
    for kind, main_part in _OOXML_MAIN_PARTS.items():
        if main_part.encode() in declared:
            return kind
    raise refused


def _is_csv_text(data: bytes) -> bool:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            return False
    if _CONTROL_RE.search(text):
        return False
    # Markup is not a spreadsheet: an HTML or SVG page renamed .csv is refused.
    return bool(text.strip()) and not text.lstrip().startswith("<")
