"""Stored PDFs, through Django's storage API (local files by default; any django-storages
backend in production). A file is named by its fingerprint, so a name either holds exactly the
PDF of that content or does not exist: nothing to invalidate, only superseded files to drop.
"""

from __future__ import annotations

import logging

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

logger = logging.getLogger(__name__)

# Outside any folder MEDIA_URL might publish: PDFs are served only through views that check
# a share token, an API key or staff access.
PDF_ROOT = "private/invoice-pdfs"


def pdf_folder(public_id: str) -> str:
    return f"{PDF_ROOT}/{public_id}"


def pdf_name(*, public_id: str, language: str, fingerprint: str) -> str:
    return f"{pdf_folder(public_id)}/{language}-{fingerprint}.pdf"


def pdf_exists(name: str) -> bool:
    return bool(default_storage.exists(name))


def pdf_read(name: str) -> bytes:
    with default_storage.open(name, "rb") as stored:
        data: bytes = stored.read()
    return data


def pdf_save(*, name: str, content: bytes) -> None:
    """Store ``content`` under ``name`` and drop the invoice's older PDFs in that language."""
    if default_storage.exists(name):
        return  # same name, same content: another render got there first
    saved = default_storage.save(name, ContentFile(content))
    if saved != name:
        # A concurrent render saved the same fingerprint between exists() and save(); the
        # storage then picks a fresh name. Keep the one under the canonical name.
        default_storage.delete(saved)
    _drop_superseded(name)


def _drop_superseded(name: str) -> None:
    folder, _, filename = name.rpartition("/")
    language = filename.split("-", 1)[0]
    try:
        _, files = default_storage.listdir(folder)
    except (NotImplementedError, FileNotFoundError):
        return
    for other in files:
        if other != filename and other.startswith(f"{language}-"):
            try:
                default_storage.delete(f"{folder}/{other}")
            except OSError:
                # Best effort: a leftover file costs disk space, never a wrong PDF.
                logger.warning("could not delete superseded PDF %s/%s", folder, other)
