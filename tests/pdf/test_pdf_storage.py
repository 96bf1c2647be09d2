"""PDFs and logos go through Django's storage API only: the pipeline works unchanged on a
storage without local files (as a django-storages backend in production is)."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import InMemoryStorage, default_storage
from PIL import Image
from pypdf import PdfReader

from invoices.models import Company, Customer, Invoice
from invoices.pdf.services import invoice_pdf_get_or_render
from tests import factories
from tests.pdf.conftest import pdf_pages_text


@pytest.fixture(autouse=True)
def memory_storage(settings: Any) -> None:
    # Django resets default_storage (and with it every FileField's) when STORAGES changes.
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }


def fresh(invoice: Invoice) -> Invoice:
    return Invoice.objects.select_related("company", "customer").get(pk=invoice.pk)


def png() -> bytes:
    buffer = BytesIO()
    Image.new("RGB", (40, 20), "red").save(buffer, format="PNG")
    return buffer.getvalue()


def test_it_stores_and_serves_pdfs_through_a_storage_without_local_files(
    client: Any, tenant: Company, customer: Customer, settings: Any
) -> None:
    tenant.logo.save("logo.png", ContentFile(png()))
    invoice = factories.make_invoice(tenant, customer, lines=[("Design", "1", 10000, "0")])
    assert isinstance(default_storage._wrapped, InMemoryStorage)

    first = invoice_pdf_get_or_render(invoice=fresh(invoice), language="en")
    again = invoice_pdf_get_or_render(invoice=fresh(invoice), language="en")
    assert again.name == first.name and not again.rendered  # served from the storage
    assert default_storage.exists(first.name)
    # The logo was read through the storage too, and printed.
    assert len(PdfReader(BytesIO(first.read())).pages[0].images) == 1
    # Nothing landed on the local disk.
    media = Path(settings.MEDIA_ROOT)
    assert not media.exists() or not any(path.is_file() for path in media.rglob("*"))

    response = client.get(f"/invoice/{factories.share_token(invoice)}/pdf?lang=en")
    assert response.status_code == 200
    assert response.content == first.read()

    # An edit renders a new file and drops the superseded one (listdir and delete).
    Invoice.objects.filter(pk=invoice.pk).update(notes="Paid by bank transfer")
    edited = invoice_pdf_get_or_render(invoice=fresh(invoice), language="en")
    assert edited.rendered and edited.name != first.name
    assert "Paid by bank transfer" in pdf_pages_text(edited.read())[0]
    assert not default_storage.exists(first.name)
