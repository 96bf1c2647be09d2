"""Pixel limits on uploaded images: the header decides, before anything is decoded."""

from __future__ import annotations

from io import BytesIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.forms import modelform_factory
from PIL import Image

from core.images import MAX_SIDE, image_size, size_allowed
from invoices.models import Company

pytestmark = pytest.mark.django_db


def _png(width: int, height: int) -> bytes:
    buffer = BytesIO()
    Image.new("1", (width, height)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_it_reads_the_size_from_the_header() -> None:
    assert image_size(BytesIO(_png(10000, 10000))) == (10000, 10000)
    assert image_size(BytesIO(b"not an image")) is None
    assert size_allowed((MAX_SIDE, 4000)) and not size_allowed((MAX_SIDE + 1, 10))
    assert not size_allowed((3999, 4001)) and size_allowed((4000, 4000))


@pytest.mark.parametrize(
    ("size", "ok"),
    [((40, 20), True), ((10000, 10000), False), ((4001, 10), False), ((3999, 4001), False)],
)
def test_the_company_form_checks_the_logo_pixels(
    tenant: Company, size: tuple[int, int], ok: bool
) -> None:
    """The admin's company form (a ModelForm) runs the model field's validator."""
    form_class = modelform_factory(Company, fields=["logo"])
    upload = SimpleUploadedFile("logo.png", _png(*size), content_type="image/png")
    form = form_class(data={}, files={"logo": upload}, instance=tenant)
    assert form.is_valid() is ok
    if not ok:
        assert "pixels" in form.errors["logo"][0]
