"""What the PDF says: the same numbers as the invoice page, in the shipped font, on A4.

One invoice is rendered once for the whole module (WeasyPrint is slow); every test reads it.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import translation
from django.utils.translation import gettext as _

from invoices.models import Invoice
from invoices.money import format_money
from invoices.pdf.services import invoice_pdf_get_or_render
from tests import factories
from tests.pdf.conftest import pdf_pages_text

# The module fixture writes rows: pytest-django sets the test database up only for db tests.
pytestmark = pytest.mark.django_db

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
LANGUAGE = "de"
LINES = [
    ("Beratung Ελληνικά Αθήνα", "2", 12550, "19"),
    ("Разработка, Москва", "1.5", 999, "7"),
    ("Hosting 12 months", "12", 1000, "0"),
]
GREEK_NAME = "Αλέξανδρος Παπαδόπουλος"
CYRILLIC_NAME = "Дмитрий Иванович Петров"


@dataclass
class Rendered:
    invoice: Invoice
    pdf: bytes
    pages: list[str]
    page_html: str


@pytest.fixture(scope="module")
def rendered(
    django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Any:
    from django.conf import settings

    media = tmp_path_factory.mktemp("media")
    with django_db_blocker.unblock():
        old_media, settings.MEDIA_ROOT = settings.MEDIA_ROOT, str(media)
        company = factories.make_company(slug="pdf-doc", name=f"{CYRILLIC_NAME} GmbH")
        customer = factories.make_customer(company, name=GREEK_NAME, city="Θεσσαλονίκη")
        invoice = factories.make_invoice(
            company, customer, lines=LINES, currency="eur", notes="Danke! Спасибо!"
        )
        # A partial payment, as payments.services records it, so paid and due differ.
        Invoice.objects.filter(pk=invoice.pk).update(amount_paid=5000)
        invoice = Invoice.objects.select_related("company", "customer").get(pk=invoice.pk)
        try:
            pdf = invoice_pdf_get_or_render(invoice=invoice, language=LANGUAGE).read()
            page = Client().get(f"/invoice/{factories.share_token(invoice)}?lang={LANGUAGE}")
            assert page.status_code == 200
            yield Rendered(
                invoice=invoice,
                pdf=pdf,
                pages=pdf_pages_text(pdf),
                page_html=page.content.decode(),
            )
        finally:
            settings.MEDIA_ROOT = old_media
            invoice.lines.all().delete()
            Invoice.objects.filter(company=company).delete()
            company.delete()


def expected_strings(invoice: Invoice) -> list[str]:
    """Number, every line's figures and every total, formatted as the page formats them."""
    money = [invoice.subtotal, invoice.tax_total, invoice.total, invoice.amount_paid]
    strings = [invoice.number]
    strings += [format_money(amount, invoice.currency, LANGUAGE) for amount in money]
    strings.append(format_money(invoice.amount_due, invoice.currency, LANGUAGE))
    for line in invoice.lines.all():
        strings += [
            line.description,
            format_money(line.unit_amount, invoice.currency, LANGUAGE),
            format_money(line.tax_amount, invoice.currency, LANGUAGE),
            format_money(line.amount + line.tax_amount, invoice.currency, LANGUAGE),
        ]
    return strings


def test_it_shows_number_lines_totals_and_amount_due_as_the_page_does(
    rendered: Rendered,
) -> None:
    text = "\n".join(rendered.pages)
    expected = expected_strings(rendered.invoice)
    assert format_money(rendered.invoice.amount_due, "eur", LANGUAGE) == "384,73\xa0€"
    missing_in_pdf = [s for s in expected if s not in text]
    missing_on_page = [s for s in expected if s not in rendered.page_html]
    assert missing_in_pdf == [], text
    assert missing_on_page == []


def test_it_puts_the_amount_due_on_the_same_row_as_its_label(rendered: Rendered) -> None:
    with translation.override(LANGUAGE):
        label = _("Amount due")
    assert f"{label} 384,73\xa0€" in rendered.pages[-1]


def test_it_writes_greek_and_cyrillic_names_as_text(rendered: Rendered) -> None:
    text = "\n".join(rendered.pages)
    for name in (GREEK_NAME, f"{CYRILLIC_NAME} GmbH", "Θεσσαλονίκη", "Разработка, Москва"):
        assert name in text


def test_it_embeds_the_shipped_font(rendered: Rendered) -> None:
    from pypdf import PdfReader

    fonts = {}
    for page in PdfReader(io.BytesIO(rendered.pdf)).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"]
            fonts[str(font["/BaseFont"])] = "/FontFile2" in descriptor
    # Subset names look like "/ABCDEF+Invoice-Sans"; the family is ours, not the machine's.
    assert fonts, "no fonts in the PDF"
    assert all("Invoice-Sans" in name for name in fonts), fonts
    assert all(fonts.values()), "a font is referenced but not embedded"


def test_it_is_a4_with_a_page_footer(rendered: Rendered) -> None:
    from pypdf import PdfReader

    box = PdfReader(io.BytesIO(rendered.pdf)).pages[0].mediabox
    # A4 is 210 x 297 mm = 595.28 x 841.89 pt.
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)
    with translation.override(LANGUAGE):
        footer = _("Page %(page)s of %(pages)s") % {"page": 1, "pages": 1}
    assert footer in rendered.pages[0]


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm (poppler-utils) missing")
def test_it_saves_page_one_as_png(rendered: Rendered, tmp_path: Path) -> None:
    source = tmp_path / "invoice.pdf"
    source.write_bytes(rendered.pdf)
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / "pdf-invoice-page1"
    subprocess.run(
        ["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", source, target],
        check=True,
        timeout=60,
    )
    png = target.with_suffix(".png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 10_000  # a drawn page, not a blank one
