"""Pay by bank transfer: the details and the EPC QR code on the invoice page and in the PDF."""

from __future__ import annotations

import base64
import io
import re
from typing import Any

import pytest

from invoices import services
from invoices.models import Company, Customer, Invoice
from invoices.transfer import epc_payload
from tests import factories
from tests.einvoice.conftest import SELLER_BIC, SELLER_IBAN

pytestmark = pytest.mark.django_db

LINES = [("Beratung", "2", 50000, "19"), ("Fachbuch", "1", 2000, "7")]


def _qr_matrix_of_svg(data_uri: str) -> list[list[bool]]:
    """The dark modules of a qrcode SvgPathImage (one ``M x,y H.. V.. H.. z`` square each)."""
    svg = base64.b64decode(data_uri.split(",", 1)[1]).decode()
    size = int(re.search(r'viewBox="0 0 (\d+) (\d+)"', svg).group(1))  # type: ignore[union-attr]
    matrix = [[False] * size for _ in range(size)]
    for x, y in re.findall(r"M(\d+),(\d+)H", svg):
        matrix[int(y)][int(x)] = True
    return matrix


def _qr_matrix_of_text(text: str) -> list[list[bool]]:
    import qrcode

    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    code.add_data(text)
    code.make(fit=True)
    return [list(row) for row in code.get_matrix()]


class TestEpcPayload:
    def test_it_carries_the_exact_fields_with_the_invoice_number(self) -> None:
        payload = epc_payload(
            holder="Beispiel GmbH",
            iban="DE89 3704 0044 0532 0130 00",
            bic="cobadeffxxx",
            amount_cents=121_940,
            reference="BSP-00001",
            structured=False,
        )
        assert payload.split("\n") == [
            "BCD",
            "002",
            "1",
            "SCT",
            "COBADEFFXXX",
            "Beispiel GmbH",
            SELLER_IBAN,
            "EUR1219.40",
            "",
            "",
            "BSP-00001",
        ]

    def test_it_puts_a_creditor_reference_in_the_structured_field(self) -> None:
        payload = epc_payload(
            holder="Beispiel GmbH",
            iban=SELLER_IBAN,
            bic="",
            amount_cents=5,
            reference="RF04BSP00001",
            structured=True,
        )
        fields = payload.split("\n")
        assert fields[4:] == ["", "Beispiel GmbH", SELLER_IBAN, "EUR0.05", "", "RF04BSP00001"]
        assert len(payload.encode()) <= 331


@pytest.fixture
def invoice(seller: Company, buyer: Customer) -> Invoice:
    return factories.make_invoice(seller, buyer, currency="eur", lines=LINES)


class TestInvoicePage:
    def test_it_shows_the_transfer_details_and_a_qr_code_that_carries_them(
        self, client: Any, invoice: Invoice
    ) -> None:
        response = client.get(f"/invoice/{factories.share_token(invoice)}")
        html = response.content.decode()
        assert "Pay by bank transfer" in html
        assert "IBAN" in html and "DE89 3704 0044 0532 0130 00" in html
        assert SELLER_BIC in html and invoice.number in html
        assert "€1,211.40" in html  # 2 x 500.00 + 19 % + 20.00 + 7 %: the amount due
        src = re.search(r'src="(data:image/svg\+xml;base64,[^"]+)"', html).group(1)  # type: ignore[union-attr]
        expected = "\n".join(
            [
                "BCD",
                "002",
                "1",
                "SCT",
                SELLER_BIC,
                "Beispiel GmbH",
                SELLER_IBAN,
                "EUR1211.40",
                "",
                "",
                invoice.number,
            ]
        )
        assert _qr_matrix_of_svg(src) == _qr_matrix_of_text(expected)

    def test_it_offers_copy_buttons_by_script_under_the_csp(
        self, client: Any, invoice: Invoice
    ) -> None:
        response = client.get(f"/invoice/{factories.share_token(invoice)}")
        html = response.content.decode()
        assert f'data-copy="{SELLER_IBAN}"' in html
        assert re.search(r'<script src="[^"]*portal/copy\.js" nonce="[^"]+"', html)
        csp = response["Content-Security-Policy"]
        assert "unsafe-inline" not in csp and "img-src 'self' data:" in csp
        # Online payment stays offered beside the transfer (when the company takes cards).
        assert response["Cache-Control"] == "no-store"

    def test_it_quotes_a_creditor_reference_when_the_company_chose_it(
        self, client: Any, seller: Company, buyer: Customer
    ) -> None:
        services.company_update(company=seller, changes={"payment_reference_format": "rf"})
        invoice = factories.make_invoice(seller, buyer, currency="eur", lines=LINES)
        html = client.get(f"/invoice/{factories.share_token(invoice)}").content.decode()
        reference = re.search(r'data-testid="transfer-reference">(RF\d\d\w+)<', html).group(1)  # type: ignore[union-attr]
        from stdnum import iso11649

        assert iso11649.is_valid(reference)

    def test_it_shows_no_qr_code_outside_euro(
        self, client: Any, seller: Company, buyer: Customer
    ) -> None:
        invoice = factories.make_invoice(seller, buyer, currency="usd", lines=LINES)
        html = client.get(f"/invoice/{factories.share_token(invoice)}").content.decode()
        assert "DE89 3704 0044 0532 0130 00" in html
        assert "data:image/svg+xml" not in html

    def test_it_shows_nothing_without_bank_details_or_once_paid(
        self, client: Any, tenant: Company, customer: Customer, seller: Company, buyer: Customer
    ) -> None:
        plain = factories.make_invoice(tenant, customer)
        html = client.get(f"/invoice/{factories.share_token(plain)}").content.decode()
        assert "Pay by bank transfer" not in html
        paid = factories.make_invoice(seller, buyer, currency="eur", lines=LINES, status="paid")
        html = client.get(f"/invoice/{factories.share_token(paid)}").content.decode()
        assert "Pay by bank transfer" not in html


class TestPdf:
    def test_it_prints_the_transfer_details_and_the_qr_code(
        self, client: Any, invoice: Invoice
    ) -> None:
        from pypdf import PdfReader

        response = client.get(f"/invoice/{factories.share_token(invoice)}/pdf")
        assert response.status_code == 200
        data = b"".join(response.streaming_content) if response.streaming else response.content
        reader = PdfReader(io.BytesIO(data))
        text = " ".join(page.extract_text() for page in reader.pages)
        assert "IBAN" in text and "DE89 3704 0044 0532 0130 00" in text
        assert "Pay by bank transfer" in text and invoice.number in text
        # The QR code is drawn as vector paths from the SVG: the page has more than text.
        assert "COBADEFFXXX" in text

    def test_it_renders_again_when_the_bank_details_change(
        self, seller: Company, invoice: Invoice
    ) -> None:
        from invoices.pdf.services import invoice_pdf_get_or_render

        first = invoice_pdf_get_or_render(invoice=invoice, language="en", wait_seconds=0)
        services.company_update(company=seller, changes={"iban": "DE02120300000000202051"})
        invoice = Invoice.objects.select_related("company", "customer").get(pk=invoice.pk)
        second = invoice_pdf_get_or_render(invoice=invoice, language="en", wait_seconds=0)
        assert first.fingerprint != second.fingerprint
        assert second.rendered


class TestFacturxAsStandardPdf:
    def test_the_customers_pdf_carries_the_xml_when_the_company_chose_it(
        self, client: Any, seller: Company, buyer: Customer, tenant: Company
    ) -> None:
        from pypdf import PdfReader

        services.company_update(company=seller, changes={"facturx_as_pdf": True})
        invoice = factories.make_invoice(seller, buyer, currency="eur", lines=LINES)
        response = client.get(f"/invoice/{factories.share_token(invoice)}/pdf")
        reader = PdfReader(io.BytesIO(response.content))
        root = reader.trailer["/Root"]
        assert root["/AF"][0].get_object()["/F"] == "factur-x.xml"
        assert "IBAN" in reader.pages[0].extract_text()
        # Without the data for an e-invoice, the plain PDF, never an error.
        services.company_update(company=tenant, changes={"facturx_as_pdf": True})
        plain = factories.make_invoice(tenant)
        response = client.get(f"/invoice/{factories.share_token(plain)}/pdf")
        assert response.status_code == 200
        assert "/AF" not in PdfReader(io.BytesIO(response.content)).trailer["/Root"]
