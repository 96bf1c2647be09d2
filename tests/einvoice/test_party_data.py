"""The parties' data e-invoices and bank transfers need: validated in the API and the admin,
kept in the issued invoice's snapshots."""

from __future__ import annotations

from typing import Any

import pytest

from invoices.models import Company, Customer
from tests import factories
from tests.einvoice.conftest import SELLER_IBAN

pytestmark = pytest.mark.django_db

JSON = "application/json"


class TestCompanyApi:
    def test_it_takes_and_shows_the_bank_details_compact(
        self, api_client: Any, tenant: Company
    ) -> None:
        response = api_client.patch(
            "/api/v1/company",
            {
                "bank_account_holder": "Tenant Ltd",
                "iban": "de89 3704 0044 0532 0130 00",
                "bic": "cobadeffxxx",
                "street": "Hauptstraße 1",
                "postcode": "10115",
                "city": "Berlin",
                "country_code": "DE",
                "vat_id": "DE 136695976",
                "payment_reference_format": "rf",
                "einvoice_formats": ["ubl", "facturx", "ubl"],
            },
            content_type=JSON,
        )
        assert response.status_code == 200, response.json()
        body = response.json()
        assert (body["iban"], body["bic"], body["vat_id"]) == (
            SELLER_IBAN,
            "COBADEFFXXX",
            "DE136695976",
        )
        assert body["einvoice_formats"] == ["facturx", "ubl"]
        assert body["payment_reference_format"] == "rf"
        tenant.refresh_from_db()
        assert (tenant.street, tenant.postcode, tenant.city, tenant.country_code) == (
            "Hauptstraße 1",
            "10115",
            "Berlin",
            "DE",
        )

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"iban": "DE89370400440532013001"}, "iban"),  # one digit off: the checksum fails
            ({"iban": "XX00"}, "iban"),
            ({"bic": "NOTABIC"}, "bic"),
            ({"vat_id": "DE136695977"}, "vat_id"),
            ({"country_code": "de"}, "country_code"),
            ({"einvoice_formats": ["pdf"]}, "einvoice_formats.0"),
            ({"electronic_address_scheme": "Peppol"}, "electronic_address_scheme"),
        ],
    )
    def test_it_refuses_bad_values_and_changes_nothing(
        self, api_client: Any, tenant: Company, body: dict[str, Any], field: str
    ) -> None:
        response = api_client.patch("/api/v1/company", body, content_type=JSON)
        assert response.status_code in (400, 422)
        assert response.json()["error"]["field"] == field
        tenant.refresh_from_db()
        assert (tenant.iban, tenant.bic, tenant.vat_id, tenant.einvoice_formats) == ("", "", "", [])


class TestCompanyAdmin:
    def test_it_shows_a_wrong_iban_as_a_form_error(self, client: Any, tenant: Company) -> None:
        from django.forms.models import model_to_dict

        owner = factories.make_staff(tenant, role="owner")
        client.force_login(owner)
        data = {
            key: value
            for key, value in model_to_dict(tenant).items()
            if value is not None and key not in ("logo", "einvoice_formats")
        }
        data.update(iban="DE89370400440532013001", bank_account_holder="Tenant Ltd")
        response = client.post(f"/admin/invoices/company/{tenant.pk}/change/", data)
        assert response.status_code == 200
        assert "This is not a valid IBAN" in response.content.decode()
        tenant.refresh_from_db()
        assert tenant.iban == ""


class TestCustomerApi:
    def test_it_takes_the_buyer_fields(self, api_client: Any, customer: Customer) -> None:
        response = api_client.patch(
            f"/api/v1/customers/{customer.public_id}",
            {
                "tax_id": "DE100000008",
                "buyer_reference": "04011000-12345-34",
                "electronic_address": "04011000-12345-34",
                "electronic_address_scheme": "0204",
            },
            content_type=JSON,
        )
        assert response.status_code == 200, response.json()
        body = response.json()
        assert (body["electronic_address"], body["electronic_address_scheme"]) == (
            "04011000-12345-34",
            "0204",
        )


class TestInvoiceLinesApi:
    def _create(self, api_client: Any, customer: Customer, line: dict[str, Any]) -> Any:
        return api_client.post(
            "/api/v1/invoices",
            {
                "customer": customer.public_id,
                "currency": "eur",
                "due_date": "2030-01-31",
                "lines": [{"description": "Work", "quantity": "2", "unit_amount": 1000, **line}],
            },
            content_type=JSON,
        )

    def test_it_keeps_category_reason_and_unit(self, api_client: Any, customer: Customer) -> None:
        response = self._create(
            api_client,
            customer,
            {"vat_category": "AE", "vat_exemption_reason": "Reverse charge", "unit_code": "HUR"},
        )
        assert response.status_code == 201, response.json()
        line = response.json()["lines"][0]
        assert (line["vat_category"], line["vat_exemption_reason"], line["unit_code"]) == (
            "AE",
            "Reverse charge",
            "HUR",
        )

    def test_it_defaults_the_unit_and_derives_the_category(
        self, api_client: Any, customer: Customer
    ) -> None:
        line = self._create(api_client, customer, {"tax_rate": "19"}).json()["lines"][0]
        assert (line["vat_category"], line["unit_code"]) == ("S", "C62")
        line = self._create(api_client, customer, {}).json()["lines"][0]
        assert line["vat_category"] == "Z"

    @pytest.mark.parametrize(
        "line",
        [
            {"vat_category": "S"},  # standard rate without a rate
            {"vat_category": "Z", "tax_rate": "7"},
            {"vat_category": "E"},  # exempt without a reason
            {"unit_code": "hours"},
        ],
    )
    def test_it_refuses_inconsistent_vat(
        self, api_client: Any, customer: Customer, line: dict[str, Any]
    ) -> None:
        response = self._create(api_client, customer, line)
        assert response.status_code == 400
        assert response.json()["error"]["field"].startswith("lines.0.")


class TestBuyerSnapshot:
    def test_it_keeps_the_buyer_and_seller_fields_at_finalize(
        self, seller: Company, buyer: Customer
    ) -> None:
        invoice = factories.make_invoice(seller, buyer, currency="eur")
        buyer.electronic_address = "changed@kunde.example"
        buyer.save()
        invoice.refresh_from_db()
        snap = invoice.buyer_snapshot
        assert snap["electronic_address"] == "einkauf@kunde.example"
        assert (snap["postal_code"], snap["city"], snap["country"]) == ("80331", "München", "DE")
        assert snap["tax_id"] == "DE100000008"
        assert invoice.seller_snapshot["vat_id"] == "DE136695976"
        assert invoice.seller_snapshot["country_code"] == "DE"
