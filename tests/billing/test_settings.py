"""The company setting behind the billing details page, in the API and the admin."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from invoices.models import Company

pytestmark = pytest.mark.django_db

JSON = "application/json"


def test_it_defaults_to_no_field(api_client: Any, tenant: Company) -> None:
    assert api_client.get("/api/v1/company").json()["portal_editable_fields"] == []


def test_it_changes_the_fields_through_the_api(api_client: Any, tenant: Company) -> None:
    response = api_client.patch(
        "/api/v1/company",
        {"portal_editable_fields": ["tax_id", "email", "name", "name", "preferred_language"]},
        content_type=JSON,
    )
    assert response.status_code == 200, response.json()
    # Canonical names, in the page's order, once each.
    expected = ["name", "billing_email", "tax_id", "language"]
    assert response.json()["portal_editable_fields"] == expected
    tenant.refresh_from_db()
    assert tenant.portal_editable_fields == expected
    cleared = api_client.patch("/api/v1/company", {"portal_editable_fields": []}, content_type=JSON)
    assert cleared.json()["portal_editable_fields"] == []


@pytest.mark.parametrize("value", [["password"], "name", [1], None, [["name"]]])
def test_it_refuses_anything_else(api_client: Any, tenant: Company, value: Any) -> None:
    response = api_client.patch(
        "/api/v1/company", {"portal_editable_fields": value}, content_type=JSON
    )
    assert response.status_code == 400
    assert response.json()["error"]["field"].startswith("portal_editable_fields")
    tenant.refresh_from_db()
    assert tenant.portal_editable_fields == []


def test_owners_choose_the_fields_in_the_admin(client: Any, owner: Any, tenant: Company) -> None:
    client.force_login(owner)
    url = reverse("admin:invoices_company_change", args=[tenant.pk])
    page = client.get(url)
    form = page.context["adminform"].form
    assert form.fields["portal_editable_fields"].widget.input_type == "checkbox"
    data = {
        name: value
        for name, value in form.initial.items()
        if value is not None and name not in ("logo", "portal_editable_fields")
    }
    data["portal_editable_fields"] = ["address", "phone"]
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    tenant.refresh_from_db()
    assert tenant.portal_editable_fields == ["address", "phone"]


def test_the_api_shows_and_changes_the_customers_phone(
    api_client: Any, tenant: Company, customer: Any
) -> None:
    url = f"/api/v1/customers/{customer.public_id}"
    assert api_client.get(url).json()["phone"] == ""
    response = api_client.patch(url, {"phone": "+49 30 1234567"}, content_type=JSON)
    assert response.status_code == 200, response.json()
    assert response.json()["phone"] == "+49 30 1234567"
