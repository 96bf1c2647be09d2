"""E-invoices where people get them: the invoice page (when the company offers them and the
data can make them) and the admin (which says what is missing)."""

from __future__ import annotations

from typing import Any

import pytest

from invoices import services
from invoices.models import Company, Customer
from tests import factories

pytestmark = pytest.mark.django_db


class TestInvoicePage:
    def test_it_offers_the_companys_formats_and_serves_them(
        self, client: Any, seller: Company, buyer: Customer
    ) -> None:
        invoice = factories.make_invoice(
            seller, buyer, currency="eur", lines=[("A", "1", 1000, "19")]
        )
        token = factories.share_token(invoice)
        html = client.get(f"/invoice/{token}").content.decode()
        for fmt in ("facturx", "xrechnung", "ubl"):
            assert f"/invoice/{token}/e-invoice/{fmt}" in html
        response = client.get(f"/invoice/{token}/e-invoice/xrechnung")
        assert response.status_code == 200
        assert response["Content-Type"] == "application/xml"
        assert b"urn:xeinkauf.de:kosit:xrechnung_3.0" in response.content
        assert response["Cache-Control"] == "no-store"
        assert "Content-Security-Policy" in response

    def test_it_offers_nothing_the_company_did_not_choose_or_cannot_make(
        self, client: Any, seller: Company, buyer: Customer, tenant: Company
    ) -> None:
        services.company_update(company=seller, changes={"einvoice_formats": ["ubl"]})
        invoice = factories.make_invoice(
            seller, buyer, currency="eur", lines=[("A", "1", 1000, "19")]
        )
        token = factories.share_token(invoice)
        html = client.get(f"/invoice/{token}").content.decode()
        assert f"/invoice/{token}/e-invoice/ubl" in html
        assert "e-invoice/xrechnung" not in html
        assert client.get(f"/invoice/{token}/e-invoice/xrechnung").status_code == 404
        assert client.get(f"/invoice/{token}/e-invoice/nonsense").status_code == 404
        # A company that chose formats but lacks the data offers none.
        services.company_update(company=tenant, changes={"einvoice_formats": ["ubl"]})
        plain = factories.make_invoice(tenant)
        plain_token = factories.share_token(plain)
        assert "e-invoice/" not in client.get(f"/invoice/{plain_token}").content.decode()
        assert client.get(f"/invoice/{plain_token}/e-invoice/ubl").status_code == 404

    def test_a_bad_token_is_the_not_found_page(self, client: Any) -> None:
        response = client.get("/invoice/nope/e-invoice/ubl")
        assert response.status_code == 404
        assert "Invoice not found" in response.content.decode()


class TestAdmin:
    def test_it_downloads_or_says_what_is_missing(
        self, client: Any, seller: Company, buyer: Customer, tenant: Company, staff: Any
    ) -> None:
        manager = factories.make_staff(seller)
        client.force_login(manager)
        invoice = factories.make_invoice(
            seller, buyer, currency="eur", lines=[("A", "1", 1000, "19")]
        )
        page = client.get(f"/admin/invoices/invoice/{invoice.pk}/change/").content.decode()
        assert f"/admin/invoices/invoice/{invoice.pk}/e-invoice/ubl/" in page
        response = client.get(f"/admin/invoices/invoice/{invoice.pk}/e-invoice/ubl/")
        assert response.status_code == 200 and b"<cbc:CustomizationID>" in response.content

        client.force_login(staff)
        plain = factories.make_invoice(tenant)
        response = client.get(
            f"/admin/invoices/invoice/{plain.pk}/e-invoice/xrechnung/", follow=True
        )
        html = response.content.decode()
        assert "company.vat_id" in html and "company.street" in html
        # Another company's invoice stays out of reach.
        response = client.get(f"/admin/invoices/invoice/{invoice.pk}/e-invoice/ubl/")
        assert response.status_code in (302, 404)
        assert b"CustomizationID" not in response.content


class TestCustomerAccount:
    def test_it_offers_the_einvoices_beside_each_invoice(
        self, client: Any, seller: Company, buyer: Customer
    ) -> None:
        invoice = factories.make_invoice(
            seller, buyer, currency="eur", lines=[("A", "1", 1000, "19")]
        )
        html = client.get(f"/portal/{factories.portal_token(buyer)}").content.decode()
        assert invoice.number in html
        assert html.count("/e-invoice/ubl") == 1 and "/e-invoice/facturx" in html
        # Choosing no formats removes the links at once (the cached list misses).
        services.company_update(company=seller, changes={"einvoice_formats": []})
        html = client.get(f"/portal/{factories.portal_token(buyer)}").content.decode()
        assert "/e-invoice/" not in html
