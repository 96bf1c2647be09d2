"""A long invoice: it spans pages, the line table's header heads every page, and the totals
stay together. Rendered once for the module (300 lines take a few seconds)."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils.translation import gettext as _

from invoices.models import Invoice
from invoices.money import format_money
from invoices.pdf.services import invoice_pdf_render
from tests import factories
from tests.pdf.conftest import pdf_pages_text

# The module fixture writes rows: pytest-django sets the test database up only for db tests.
pytestmark = pytest.mark.django_db

LINE_COUNT = 300


@pytest.fixture(scope="module")
def long_invoice_pages(
    django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Any:
    from django.conf import settings

    with django_db_blocker.unblock():
        old_media, settings.MEDIA_ROOT = settings.MEDIA_ROOT, str(tmp_path_factory.mktemp("m"))
        company = factories.make_company(slug="pdf-long", name="Long Ltd")
        lines = [(f"Item number {i:03d}", "1", 100 + i, "0") for i in range(1, LINE_COUNT + 1)]
        invoice = factories.make_invoice(company, lines=lines, status="draft")
        invoice = Invoice.objects.select_related("company", "customer").get(pk=invoice.pk)
        try:
            pdf = invoice_pdf_render(invoice=invoice, language="en")
            yield invoice, pdf_pages_text(pdf.read())
        finally:
            settings.MEDIA_ROOT = old_media
            Invoice.objects.filter(company=company).delete()
            company.customers.all().delete()
            company.delete()


def test_it_spans_several_pages(long_invoice_pages: Any) -> None:
    _invoice, pages = long_invoice_pages
    assert len(pages) >= 5


def test_it_repeats_the_table_header_on_every_page(long_invoice_pages: Any) -> None:
    _invoice, pages = long_invoice_pages
    header = " ".join(_(word).upper() for word in ("Description", "Quantity", "Unit price"))
    assert [header in page for page in pages] == [True] * len(pages)


def test_it_prints_every_line_once(long_invoice_pages: Any) -> None:
    _invoice, pages = long_invoice_pages
    text = "\n".join(pages)
    counts = [text.count(f"Item number {i:03d} ") for i in range(1, LINE_COUNT + 1)]
    assert counts == [1] * LINE_COUNT


def test_it_keeps_the_totals_together_on_the_last_page(long_invoice_pages: Any) -> None:
    invoice, pages = long_invoice_pages
    total = format_money(invoice.total, invoice.currency, "en")
    assert f"{_('Amount due')} {total}" in pages[-1]
    assert _("Subtotal") in pages[-1]


def test_it_numbers_the_pages(long_invoice_pages: Any) -> None:
    _invoice, pages = long_invoice_pages
    count = len(pages)
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {count}" in page
    # From page 2 on the invoice number heads the page too.
    assert all(_invoice.number in page for page in pages[1:])
