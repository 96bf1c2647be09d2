"""The totals stay together when the lines end near the bottom of a page.

A long invoice (test_pdf_pages) rarely ends where the page break would cut the totals, so
this test looks for the exact spot: the smallest number of lines that no longer fits on one
page. There, the totals are what overflows; kept together, all of them move to page 2.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.utils.translation import gettext as _

from invoices.models import Company, Invoice
from invoices.pdf.html import invoice_pdf_html
from invoices.pdf.render import render_pdf
from tests import factories
from tests.pdf.conftest import pdf_pages_text

pytestmark = pytest.mark.django_db


def pages_with(tenant: Company) -> Callable[[int], list[str]]:
    def render(line_count: int) -> list[str]:
        lines = [(f"Item {i:03d}", "1", 100 + i, "0") for i in range(1, line_count + 1)]
        # A draft (no pre-render on finalize) without notes: the totals end the document.
        invoice = factories.make_invoice(tenant, lines=lines, status="draft", notes="")
        invoice = Invoice.objects.select_related("company", "customer").get(pk=invoice.pk)
        return pdf_pages_text(render_pdf(invoice_pdf_html(invoice=invoice, language="en")))

    return render


def test_it_keeps_the_totals_together_across_a_page_break(tenant: Company) -> None:
    render = pages_with(tenant)
    low, high = 1, 80
    assert len(render(low)) == 1 and len(render(high)) > 1
    while high - low > 1:  # the smallest line count that needs a second page
        middle = (low + high) // 2
        if len(render(middle)) == 1:
            low = middle
        else:
            high = middle
    pages = render(high)
    assert len(pages) == 2
    first_row = [i for i, page in enumerate(pages) if _("Subtotal") in page]
    last_row = [i for i, page in enumerate(pages) if _("Amount due") in page]
    assert first_row == last_row == [1], pages
