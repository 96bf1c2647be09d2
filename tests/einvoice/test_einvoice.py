"""E-invoices: XRechnung 3.0 (CII), Factur-X (PDF/A-3b with CII inside) and Peppol BIS 3.0
(UBL), each XSD-valid and clean under the EN 16931 schematron on a spread of invoices, and a
clear 409 when the data cannot make one."""

from __future__ import annotations

import io
import re
from decimal import Decimal
from typing import Any

import pytest
from lxml import etree

from invoices import services
from invoices.einvoice.data import invoice_einvoice_data
from invoices.einvoice.services import credit_note_einvoice, invoice_einvoice
from invoices.einvoice.validate import xsd_errors
from invoices.models import Company, Customer, Invoice
from tests import factories
from tests.einvoice.conftest import buyer_of
from tests.einvoice.schematron import schematron_failures

pytestmark = pytest.mark.django_db

JSON = "application/json"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
# Factur-X's own rule that the specification identifier is one of Factur-X's profiles: an
# XRechnung carries its own identifier, the rest of the EN 16931 rules apply unchanged.
FACTURX_PROFILE_RULE = "FX-SCH-A-000556"


def _line(
    description: str,
    quantity: str,
    unit_amount: int,
    rate: str = "0",
    category: str = "",
    reason: str = "",
    unit: str = "C62",
) -> services.LineInput:
    return services.LineInput(
        description=description,
        quantity=Decimal(quantity),
        unit_amount=unit_amount,
        tax_rate=Decimal(rate),
        vat_category=category,
        vat_exemption_reason=reason,
        unit_code=unit,
    )


def _invoice(
    company: Company, customer: Customer, lines: list[Any], currency: str = "eur"
) -> Invoice:
    import datetime as dt

    invoice = services.invoice_create(
        company=company,
        customer=customer,
        currency=currency,
        issue_date=dt.date(2026, 11, 2),
        due_date=dt.date(2026, 12, 2),
        lines=lines,
    )
    services.invoice_finalize(invoice=invoice)
    return Invoice.objects.select_related("company", "customer").get(pk=invoice.pk)


def _assert_clean(invoice: Invoice) -> dict[str, bytes]:
    """Every XML format of ``invoice``: XSD-valid and without EN 16931 schematron errors."""
    documents = {
        fmt: invoice_einvoice(invoice=invoice, fmt=fmt).content for fmt in ("xrechnung", "ubl")
    }
    # The Factur-X XML is the CII the PDF embeds (the PDF itself is tested once, below).
    from invoices.einvoice.cii import cii_xml

    lines = list(invoice.lines.all())
    documents["facturx"] = cii_xml(
        invoice_einvoice_data(invoice=invoice, fmt="facturx", lines=lines), xrechnung=False
    )
    for fmt, xml in documents.items():
        schema = "ubl-invoice" if fmt == "ubl" else "cii"
        assert xsd_errors(xml, schema) == [], fmt
        failures = schematron_failures(xml, "ubl" if fmt == "ubl" else "cii")
        if fmt == "xrechnung":
            failures = [f for f in failures if not f.startswith(FACTURX_PROFILE_RULE)]
        assert failures == [], (fmt, failures)
    return documents


class TestSpreadOfInvoices:
    def test_several_vat_rates(self, seller: Company, buyer: Customer) -> None:
        invoice = _invoice(
            seller,
            buyer,
            [
                _line("Beratung", "2.5", 12000, "19", unit="HUR"),
                _line("Fachbuch", "3", 2999, "7"),
                _line("Schulung", "1", 50000, "19", unit="DAY"),
            ],
        )
        documents = _assert_clean(invoice)
        cii = etree.fromstring(documents["xrechnung"])
        rates = sorted(
            cii.xpath(
                "//ram:ApplicableTradeTax/ram:RateApplicablePercent/text()", namespaces={"ram": RAM}
            )
        )
        assert set(rates) == {"19", "7"}
        assert b"urn:xeinkauf.de:kosit:xrechnung_3.0" in documents["xrechnung"]
        assert b'unitCode="HUR"' in documents["xrechnung"] and b'unitCode="DAY"' in documents["ubl"]

    def test_zero_rated_and_exempt_lines_beside_standard_ones(
        self, seller: Company, buyer: Customer
    ) -> None:
        invoice = _invoice(
            seller,
            buyer,
            [
                _line("Software", "1", 10000, "19"),
                _line("Zeitschrift (Nullsatz)", "1", 1500, "0", "Z"),
                _line("Heilbehandlung", "1", 8000, "0", "E", "Steuerfrei nach § 4 Nr. 14 UStG"),
            ],
        )
        documents = _assert_clean(invoice)
        assert b"Steuerfrei nach" in documents["ubl"]

    def test_reverse_charge_for_an_eu_business(self, seller: Company) -> None:
        austrian = buyer_of(
            seller,
            name="Kunde GmbH",
            address_line1="Ring 1",
            postal_code="1010",
            city="Wien",
            country="AT",
            tax_id="ATU13585627",
            buyer_reference="PO-77",
        )
        invoice = _invoice(
            seller,
            austrian,
            [
                _line(
                    "Beratung",
                    "10",
                    15000,
                    "0",
                    "AE",
                    "Steuerschuldnerschaft des Leistungsempfängers",
                )
            ],
        )
        documents = _assert_clean(invoice)
        ubl = etree.fromstring(documents["ubl"])
        assert ubl.xpath("//cbc:TaxExemptionReasonCode/text()", namespaces={"cbc": CBC}) == [
            "VATEX-EU-AE"
        ]

    def test_a_yen_invoice_has_whole_amounts(self, seller: Company, buyer: Customer) -> None:
        invoice = _invoice(seller, buyer, [_line("Consulting", "2", 15000, "10")], currency="jpy")
        documents = _assert_clean(invoice)
        assert b'<cbc:PayableAmount currencyID="JPY">33000</cbc:PayableAmount>' in documents["ubl"]

    def test_a_partly_paid_invoice_says_what_was_paid_and_what_is_due(
        self, seller: Company, buyer: Customer
    ) -> None:
        from payments.services import ReceivedPayment, payment_record

        invoice = _invoice(seller, buyer, [_line("Beratung", "1", 100000, "19")])
        payment_record(
            company=seller,
            received=ReceivedPayment(
                intent_id="pi_einvoice_part",
                amount=50000,
                currency="eur",
                invoice_public_id=invoice.public_id,
            ),
            source="test",
        )
        invoice = Invoice.objects.select_related("company", "customer").get(pk=invoice.pk)
        documents = _assert_clean(invoice)
        assert b'<cbc:PrepaidAmount currencyID="EUR">500.00</cbc:PrepaidAmount>' in documents["ubl"]
        assert b'<cbc:PayableAmount currencyID="EUR">690.00</cbc:PayableAmount>' in documents["ubl"]

    def test_a_credit_note_references_its_invoice(self, seller: Company, buyer: Customer) -> None:
        invoice = _invoice(
            seller,
            buyer,
            [_line("Beratung", "1", 100000, "19"), _line("Buch", "1", 5000, "7")],
        )
        note = services.credit_note_create(
            company=seller,
            customer=buyer,
            currency="eur",
            amount=11900,
            reason="Rabatt",
            invoice=invoice,
        )
        for fmt, kind, schema in (
            ("xrechnung", "cii", "cii"),
            ("facturx", "cii", "cii"),
            ("ubl", "ubl", "ubl-creditnote"),
        ):
            xml = credit_note_einvoice(note=note, fmt=fmt).content
            assert xsd_errors(xml, schema) == [], fmt
            failures = [
                f for f in schematron_failures(xml, kind) if not f.startswith(FACTURX_PROFILE_RULE)
            ]
            assert failures == [], (fmt, failures)
            assert invoice.number.encode() in xml
        ubl = credit_note_einvoice(note=note, fmt="ubl").content
        assert b"<cbc:CreditNoteTypeCode>381</cbc:CreditNoteTypeCode>" in ubl
        assert re.search(
            rb"<cac:InvoiceDocumentReference>\s*<cbc:ID>" + invoice.number.encode(), ubl
        )
        cii = credit_note_einvoice(note=note, fmt="xrechnung").content
        assert b"<ram:TypeCode>381</ram:TypeCode>" in cii

    def test_endpoint_ids_and_schemes_come_from_the_parties(self, seller: Company) -> None:
        authority = buyer_of(
            seller, electronic_address="991-01234-56", electronic_address_scheme="0204"
        )
        invoice = _invoice(seller, authority, [_line("Beratung", "1", 10000, "19")])
        ubl = invoice_einvoice(invoice=invoice, fmt="ubl").content
        assert b'<cbc:EndpointID schemeID="0204">991-01234-56</cbc:EndpointID>' in ubl
        assert b'<cbc:EndpointID schemeID="EM">rechnung@beispiel.example</cbc:EndpointID>' in ubl


class TestRefusals:
    def test_a_three_decimal_currency_is_refused_with_409(
        self, api_client: Any, tenant: Company
    ) -> None:
        services.company_update(company=tenant, changes={"default_currency": "kwd"})
        invoice = factories.make_invoice(tenant, currency="kwd")
        response = api_client.get(f"/api/v1/invoices/{invoice.public_id}/e-invoice?format=ubl")
        assert response.status_code == 409
        error = response.json()["error"]
        assert error["code"] == "einvoice_unavailable" and "three decimals" in error["message"]
        assert error["missing_fields"] == ["currency"]

    def test_a_company_without_the_data_gets_409_naming_the_fields(
        self, api_client: Any, tenant: Company
    ) -> None:
        invoice = factories.make_invoice(tenant, currency="eur")
        for fmt in ("facturx", "xrechnung", "ubl"):
            response = api_client.get(
                f"/api/v1/invoices/{invoice.public_id}/e-invoice?format={fmt}"
            )
            assert response.status_code == 409, fmt
            error = response.json()["error"]
            assert {"company.vat_id", "company.street", "company.city", "customer.country"} <= set(
                error["missing_fields"]
            )
            assert "company.vat_id" in error["message"]

    def test_reverse_charge_needs_the_buyers_vat_id(self, seller: Company) -> None:
        from invoices.einvoice.data import EInvoiceUnavailable

        buyer = buyer_of(seller, tax_id="")
        invoice = _invoice(
            seller, buyer, [_line("Beratung", "1", 10000, "0", "AE", "Reverse charge")]
        )
        with pytest.raises(EInvoiceUnavailable) as refused:
            invoice_einvoice(invoice=invoice, fmt="ubl")
        assert refused.value.missing == ["customer.tax_id"]

    @pytest.mark.parametrize("query", ["?format=pdf", "?format=", ""])
    def test_an_unknown_format_is_400(
        self, api_client: Any, seller: Company, buyer: Customer, query: str
    ) -> None:
        invoice = factories.make_invoice(seller, buyer, currency="eur")
        factories.make_staff(seller)
        from django.test import Client

        from invoices.services import api_key_create

        client = Client(HTTP_AUTHORIZATION=f"Bearer {api_key_create(company=seller)[1]}")
        response = client.get(f"/api/v1/invoices/{invoice.public_id}/e-invoice{query}")
        assert response.status_code == 400
        assert response.json()["error"]["field"] == "format"

    def test_another_companys_invoice_is_404(
        self, api_client: Any, seller: Company, buyer: Customer
    ) -> None:
        invoice = factories.make_invoice(seller, buyer, currency="eur")
        response = api_client.get(f"/api/v1/invoices/{invoice.public_id}/e-invoice?format=ubl")
        assert response.status_code == 404


class TestFacturxPdf:
    def test_it_is_pdfa3b_with_the_xml_embedded_as_the_alternative(
        self, seller: Company, buyer: Customer
    ) -> None:
        from django.test import Client
        from pypdf import PdfReader

        from invoices.services import api_key_create

        invoice = _invoice(
            seller, buyer, [_line("Beratung", "2", 50000, "19"), _line("Buch", "1", 2000, "7")]
        )
        client = Client(HTTP_AUTHORIZATION=f"Bearer {api_key_create(company=seller)[1]}")
        response = client.get(f"/api/v1/invoices/{invoice.public_id}/e-invoice?format=facturx")
        assert response.status_code == 200
        assert response["Content-Type"] == "application/pdf"
        data = response.content
        assert data.startswith(b"%PDF-1.7")
        reader = PdfReader(io.BytesIO(data))
        root = reader.trailer["/Root"]

        # The XML: one associated file, factur-x.xml, the alternative form of the document.
        assert len(root["/AF"]) == 1
        spec = root["/AF"][0].get_object()
        assert (spec["/F"], spec["/UF"], spec["/AFRelationship"]) == (
            "factur-x.xml",
            "factur-x.xml",
            "/Alternative",
        )
        names = root["/Names"]["/EmbeddedFiles"]["/Names"]
        assert names[0] == "factur-x.xml"
        embedded = spec["/EF"]["/F"].get_object()
        assert embedded["/Subtype"] == "/text/xml"
        xml = embedded.get_data()
        assert xsd_errors(xml, "cii") == []
        assert schematron_failures(xml, "cii") == []
        assert b"<ram:GuidelineSpecifiedDocumentContextParameter>" in xml.replace(b"\n", b"")
        assert b"urn:cen.eu:en16931:2017</ram:ID>" in xml

        # PDF/A-3b: identification and the Factur-X extension schema in the XMP, an output
        # intent, every font embedded.
        xmp = root["/Metadata"].get_object().get_data().decode()
        assert re.search(r"<pdfaid:part>3</pdfaid:part>", xmp)
        assert re.search(r"<pdfaid:conformance>B</pdfaid:conformance>", xmp)
        assert "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#" in xmp
        assert "<pdfaSchema:prefix>fx</pdfaSchema:prefix>" in xmp
        assert "<fx:DocumentType>INVOICE</fx:DocumentType>" in xmp
        assert "<fx:DocumentFileName>factur-x.xml</fx:DocumentFileName>" in xmp
        assert "<fx:ConformanceLevel>EN 16931</fx:ConformanceLevel>" in xmp
        intent = root["/OutputIntents"][0].get_object()
        assert intent["/S"] == "/GTS_PDFA1" and "/DestOutputProfile" in intent
        for page in reader.pages:
            for font in page["/Resources"]["/Font"].values():
                descriptor = font.get_object()
                descendants = descriptor.get("/DescendantFonts")
                if descendants:
                    descriptor = descendants[0].get_object()
                fd = descriptor["/FontDescriptor"].get_object()
                assert any(key in fd for key in ("/FontFile", "/FontFile2", "/FontFile3"))
        # The page is the customer's invoice, with the transfer details.
        text = " ".join(page.extract_text() for page in reader.pages)
        assert invoice.number in text and "IBAN" in text
