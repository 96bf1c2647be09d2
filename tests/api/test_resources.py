"""REST API resources: customers list and update, draft edit and delete, uncollectible,
company settings, and JSON answers for unknown paths and wrong methods."""

from __future__ import annotations

from typing import Any

import pytest

from invoices.models import Company, Customer, Invoice
from tests import factories

pytestmark = pytest.mark.django_db

JSON = "application/json"


def _has_field(model: Any, name: str) -> bool:
    return name in {field.name for field in model._meta.concrete_fields}


class TestCustomersList:
    def test_it_filters_by_email_and_external_id(self, api_client: Any, tenant: Company) -> None:
        ada = factories.make_customer(tenant, email="Ada@Example.com", external_id="A-1")
        factories.make_customer(tenant, email="bob@example.com", external_id="B-1")
        body = api_client.get("/api/v1/customers?email=ada@example.com").json()
        assert [c["id"] for c in body["data"]] == [ada.public_id]
        body = api_client.get("/api/v1/customers?external_id=B-1").json()
        assert body["total_count"] == 1 and body["data"][0]["email"] == "bob@example.com"

    def test_it_paginates_newest_first(self, api_client: Any, tenant: Company) -> None:
        made = [factories.make_customer(tenant) for _ in range(3)]
        body = api_client.get("/api/v1/customers?page_size=2").json()
        assert body["object"] == "list"
        assert (body["total_count"], body["has_more"]) == (3, True)
        assert [c["id"] for c in body["data"]] == [made[2].public_id, made[1].public_id]
        last = api_client.get("/api/v1/customers?page_size=2&page=2").json()
        assert [c["id"] for c in last["data"]] == [made[0].public_id]
        assert api_client.get("/api/v1/customers?page_size=0").status_code == 400

    def test_it_accepts_the_stripe_customer_filter(self, api_client: Any, tenant: Company) -> None:
        factories.make_customer(tenant)
        response = api_client.get("/api/v1/customers?stripe_customer=cus_Stripe123")
        assert response.status_code == 200
        if not _has_field(Customer, "stripe_customer_id"):
            # No customer is linked to Stripe until Stripe sync stores the id.
            assert response.json()["total_count"] == 0

    def test_it_lists_only_the_keys_company(self, api_client: Any, other_tenant: Company) -> None:
        factories.make_customer(other_tenant, email="ada@example.com")
        assert api_client.get("/api/v1/customers").json()["total_count"] == 0
        assert api_client.get("/api/v1/customers?email=ada@example.com").json()["total_count"] == 0


class TestCustomerUpdate:
    def test_it_changes_the_fields_sent_only(self, api_client: Any, customer: Customer) -> None:
        response = api_client.patch(
            f"/api/v1/customers/{customer.public_id}",
            {
                "name": "Ada King",
                "address_line1": "12 St James's Square",
                "city": "London",
                "postal_code": "SW1Y 4JH",
                "country": "GB",
            },
            content_type=JSON,
        )
        assert response.status_code == 200, response.json()
        body = response.json()
        assert (body["name"], body["city"], body["country"]) == ("Ada King", "London", "GB")
        assert body["email"] == "ada@example.com"
        customer.refresh_from_db()
        assert customer.address_lines == ["12 St James's Square", "SW1Y 4JH London", "GB"]

    def test_it_gives_a_new_email_its_preferences_link(
        self, api_client: Any, customer: Customer
    ) -> None:
        body = api_client.patch(
            f"/api/v1/customers/{customer.public_id}",
            {"email": "king@example.com"},
            content_type=JSON,
        ).json()
        assert body["email"] == "king@example.com"
        assert body["preferences_url"]

    @pytest.mark.parametrize(
        ("body", "code", "field"),
        [
            ({"surprise": 1}, "unknown_field", "surprise"),
            ({"name": None}, "invalid", "name"),
            ({"name": ""}, "invalid", "name"),
            ({"email": "not an email"}, "invalid", "email"),
            ({"country": "Germany"}, "invalid", "country"),
            ({"preferred_language": "xx"}, "invalid", "preferred_language"),
        ],
    )
    def test_it_refuses_bad_input(
        self, api_client: Any, customer: Customer, body: dict[str, Any], code: str, field: str
    ) -> None:
        response = api_client.patch(
            f"/api/v1/customers/{customer.public_id}", body, content_type=JSON
        )
        assert response.status_code == 400
        assert response.json()["error"]["code"] == code
        assert response.json()["error"]["field"] == field
        customer.refresh_from_db()
        assert customer.name == "Ada Lovelace"

    def test_it_refuses_an_external_id_in_use(
        self, api_client: Any, tenant: Company, customer: Customer
    ) -> None:
        factories.make_customer(tenant, external_id="TAKEN")
        response = api_client.patch(
            f"/api/v1/customers/{customer.public_id}", {"external_id": "TAKEN"}, content_type=JSON
        )
        assert response.status_code == 409
        assert response.json()["error"] == {
            "code": "duplicate",
            "message": "A customer with this external_id exists.",
            "field": "external_id",
        }

    @pytest.mark.parametrize("name", ["tax_id", "buyer_reference"])
    def test_it_takes_tax_id_and_buyer_reference_once_the_model_has_them(
        self, api_client: Any, customer: Customer, name: str
    ) -> None:
        response = api_client.patch(
            f"/api/v1/customers/{customer.public_id}", {name: "DE123456789"}, content_type=JSON
        )
        if _has_field(Customer, name):
            assert response.status_code == 200
            assert response.json()[name] == "DE123456789"
        else:
            assert response.status_code == 400
            assert response.json()["error"]["code"] == "unknown_field"


def _draft_lines() -> list[dict[str, Any]]:
    return [
        {"description": "Design", "quantity": "2", "unit_amount": 5000, "tax_rate": "0"},
        {"description": "Hosting", "quantity": "1", "unit_amount": 1234, "tax_rate": "0"},
    ]


class TestDrafts:
    def test_it_edits_a_draft_and_replaces_its_lines(
        self, api_client: Any, tenant: Company
    ) -> None:
        draft = factories.make_invoice(tenant, status="draft", lines=3)
        response = api_client.patch(
            f"/api/v1/invoices/{draft.public_id}",
            {"due_date": "2031-01-31", "notes": "Thanks", "lines": _draft_lines()},
            content_type=JSON,
        )
        assert response.status_code == 200, response.json()
        body = response.json()
        assert [line["description"] for line in body["lines"]] == ["Design", "Hosting"]
        assert (body["total"], body["due_date"], body["notes"]) == (11234, "2031-01-31", "Thanks")
        assert body["status"] == "draft"

    def test_it_moves_a_draft_to_another_customer_and_currency(
        self, api_client: Any, tenant: Company
    ) -> None:
        draft = factories.make_invoice(tenant, status="draft")
        other = factories.make_customer(tenant)
        body = api_client.patch(
            f"/api/v1/invoices/{draft.public_id}",
            {"customer": other.public_id, "currency": "EUR", "minimum_payment": None},
            content_type=JSON,
        ).json()
        assert (body["customer"], body["currency"]) == (other.public_id, "eur")

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"currency": "xyz"}, "currency"),
            ({"lines": []}, "lines"),
            ({"due_date": None}, "due_date"),
            ({"due_date": "2000-01-01"}, "due_date"),
            ({"number": "X-1"}, "number"),
        ],
    )
    def test_it_refuses_bad_changes(
        self, api_client: Any, tenant: Company, body: dict[str, Any], field: str
    ) -> None:
        draft = factories.make_invoice(tenant, status="draft")
        response = api_client.patch(f"/api/v1/invoices/{draft.public_id}", body, content_type=JSON)
        assert response.status_code == 400
        assert response.json()["error"]["field"] == field

    def test_it_refuses_another_companys_customer(
        self, api_client: Any, tenant: Company, other_tenant: Company
    ) -> None:
        draft = factories.make_invoice(tenant, status="draft")
        theirs = factories.make_customer(other_tenant)
        response = api_client.patch(
            f"/api/v1/invoices/{draft.public_id}", {"customer": theirs.public_id}, content_type=JSON
        )
        assert response.status_code == 400
        assert response.json()["error"]["field"] == "customer"

    @pytest.mark.parametrize("status", ["open", "paid", "void", "uncollectible"])
    def test_it_refuses_to_edit_or_delete_an_issued_invoice(
        self, api_client: Any, tenant: Company, status: str
    ) -> None:
        invoice = factories.make_invoice(tenant, status="open")
        if status != "open":
            from invoices.services import invoice_transition

            invoice_transition(invoice=invoice, to_status=status)
        url = f"/api/v1/invoices/{invoice.public_id}"
        edited = api_client.patch(url, {"notes": "changed"}, content_type=JSON)
        assert edited.status_code == 409
        assert edited.json()["error"]["code"] == "invalid_status"
        deleted = api_client.delete(url)
        assert deleted.status_code == 409
        invoice.refresh_from_db()
        assert invoice.notes == "" and invoice.status == status

    def test_it_deletes_a_draft_and_gives_its_number_back(
        self, api_client: Any, tenant: Company
    ) -> None:
        draft = factories.make_invoice(tenant, status="draft")
        response = api_client.delete(f"/api/v1/invoices/{draft.public_id}")
        assert response.status_code == 204
        assert not Invoice.objects.filter(pk=draft.pk).exists()
        assert api_client.get(f"/api/v1/invoices/{draft.public_id}").status_code == 404
        again = factories.make_invoice(tenant, status="draft")
        assert again.number == draft.number

    def test_it_marks_an_open_invoice_uncollectible(self, api_client: Any, tenant: Company) -> None:
        invoice = factories.make_invoice(tenant)
        response = api_client.post(f"/api/v1/invoices/{invoice.public_id}/mark-uncollectible")
        assert response.status_code == 200
        assert response.json()["status"] == "uncollectible"
        draft = factories.make_invoice(tenant, status="draft")
        refused = api_client.post(f"/api/v1/invoices/{draft.public_id}/mark-uncollectible")
        assert refused.status_code == 409


class TestCompany:
    def test_it_shows_the_keys_company(self, api_client: Any, tenant: Company) -> None:
        body = api_client.get("/api/v1/company").json()
        assert body["object"] == "company"
        assert (body["id"], body["name"], body["slug"]) == (
            tenant.public_key,
            "Tenant Ltd",
            "tenant",
        )
        assert body["brand_color"] == "#1d4ed8" and body["language"] == "en"

    def test_it_changes_settings(self, api_client: Any, tenant: Company) -> None:
        response = api_client.patch(
            "/api/v1/company",
            {
                "brand_color": "#0f766e",
                "language": "de",
                "time_zone": "Europe/Berlin",
                "address": "Hauptstr. 1\n10115 Berlin",
                "tax_id": "DE123456789",
                "payment_terms_days": 14,
            },
            content_type=JSON,
        )
        assert response.status_code == 200, response.json()
        tenant.refresh_from_db()
        assert tenant.payment_terms_days == 14
        assert (tenant.brand_color, tenant.language, tenant.time_zone) == (
            "#0f766e",
            "de",
            "Europe/Berlin",
        )
        assert response.json()["tax_id"] == "DE123456789"

    @pytest.mark.parametrize(
        ("body", "code", "field"),
        [
            ({"brand_color": "blue"}, "invalid", "brand_color"),
            ({"time_zone": "Mars/Olympus"}, "invalid", "time_zone"),
            ({"language": "xx"}, "invalid", "language"),
            ({"default_currency": "xyz"}, "invalid", "default_currency"),
            ({"payment_terms_days": 400}, "invalid", "payment_terms_days"),
            ({"slug": "mine"}, "unknown_field", "slug"),
            ({"plan": "pro"}, "unknown_field", "plan"),
        ],
    )
    def test_it_refuses_bad_settings(
        self, api_client: Any, tenant: Company, body: dict[str, Any], code: str, field: str
    ) -> None:
        response = api_client.patch("/api/v1/company", body, content_type=JSON)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == code
        assert response.json()["error"]["field"] == field

    def test_it_changes_only_the_keys_company(self, api_client: Any, other_tenant: Company) -> None:
        api_client.patch("/api/v1/company", {"name": "Renamed"}, content_type=JSON)
        other_tenant.refresh_from_db()
        assert other_tenant.name == "Other Corp"


class TestJsonEverywhere:
    @pytest.mark.parametrize(
        "path", ["/api/v1/nothing-here", "/api/v1/invoices/inv_1/nope", "/api/v1/"]
    )
    def test_it_answers_unknown_paths_with_json(self, api_client: Any, path: str) -> None:
        response = api_client.get(path)
        assert response.status_code == 404
        assert response["Content-Type"].startswith("application/json")
        assert response.json()["error"]["code"] == "not_found"

    def test_it_answers_a_wrong_method_with_json(self, api_client: Any) -> None:
        response = api_client.put("/api/v1/invoices")
        assert response.status_code == 405
        assert response.json()["error"]["code"] == "method_not_allowed"
        assert set(response["Allow"].replace(" ", "").split(",")) == {"GET", "POST"}
