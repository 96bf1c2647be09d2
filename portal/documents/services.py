"""Writes for shared documents: save (with the file's type sniffed from its content) and
delete (the stored file too). Each is audited in the document's company."""

from __future__ import annotations

from typing import IO

from django.core.exceptions import SuspiciousFileOperation
from django.db import transaction
from django.utils.text import get_valid_filename

from invoices import events
from invoices.events import Actor

from .filetypes import Sniffed, sniff
from .models import Document


def download_name(title: str, sniffed: Sniffed) -> str:
    """A file name safe in any operating system, ending in the sniffed type's extension."""
    stem = title.rsplit(".", 1)[0] if title.lower().endswith(f".{sniffed.extension}") else title
    try:
        safe = get_valid_filename(stem.strip())[:150]
    except SuspiciousFileOperation:  # a name it cannot make safe ("", "..")
        safe = "document"
    return f"{safe or 'document'}.{sniffed.extension}"


@transaction.atomic
def document_save(
    *, document: Document, upload: IO[bytes] | None, changed: list[str], actor: Actor = None
) -> Document:
    """Create or change ``document``. A new ``upload`` is sniffed (FileRefused for a type or
    size that is not allowed) and replaces the stored file."""
    created = document.pk is None
    if upload is not None:
        sniffed = sniff(upload)
        document.content_type = sniffed.content_type
        document.size = sniffed.size
        document.filename = download_name(document.title, sniffed)
    elif document.filename and "title" in changed:
        extension = document.filename.rsplit(".", 1)[-1]
        document.filename = download_name(
            document.title, Sniffed(document.content_type, extension, document.size)
        )
    document.save()
    events.record(
        company=document.company,
        action="document.created" if created else "document.changed",
        object_id=document.public_id,
        actor=actor,
        audience=document.audience,
        visibility=document.visibility,
        fields=sorted(changed),
    )
    return document


def document_delete(*, document: Document, actor: Actor = None) -> None:
    name, storage = document.file.name, document.file.storage
    with transaction.atomic():
        events.record(
            company=document.company,
            action="document.deleted",
            object_id=document.public_id,
            actor=actor,
            title=document.title,
        )
        document.delete()
    # After the row is gone (a failed delete leaves the file where the row still points).
    if name:
        transaction.on_commit(lambda: storage.delete(name))
