"""Admin tenant isolation: staff of one company get 404 for every object route of another."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from invoices.models import ApiKey, Company, CreditNote, Membership
from invoices.services import api_key_create
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def tenant_objects(tenant: Company, customer: Any, staff: Any) -> dict[str, Any]:
    invoice = factories.make_invoice(tenant, customer, lines=2)
    note = CreditNote.objects.create(
        company=tenant, customer=customer, number="CN-1", currency="usd", amount=500
    )
    key, _raw = api_key_create(company=tenant)
    return {
        "company": tenant,
        "customer": customer,
        "invoice": invoice,
        "creditnote": note,
        "apikey": key,
        "membership": Membership.objects.get(user=staff),
    }


ROUTES = ["change", "delete", "history"]


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    "model", ["company", "customer", "invoice", "creditnote", "apikey", "membership"]
)
def test_it_checks_ownership(
    client: Any, outsider: Any, tenant_objects: dict[str, Any], model: str, route: str
) -> None:
    obj = tenant_objects[model]
    client.force_login(outsider)
    url = reverse(f"admin:invoices_{model}_{route}", args=[obj.pk])
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("route", ROUTES)
def test_it_lets_own_staff_open_their_invoice(
    client: Any, staff: Any, tenant_objects: dict[str, Any], route: str
) -> None:
    client.force_login(staff)
    url = reverse(f"admin:invoices_invoice_{route}", args=[tenant_objects["invoice"].pk])
    assert client.get(url).status_code == 200


def test_it_lists_only_own_invoices(
    client: Any, staff: Any, tenant: Company, other_tenant: Company
) -> None:
    mine = factories.make_invoice(tenant)
    theirs = factories.make_invoice(other_tenant)
    client.force_login(staff)
    body = client.get(reverse("admin:invoices_invoice_changelist")).content.decode()
    assert mine.number in body
    assert f"/{theirs.pk}/change/" not in body


def test_it_keeps_the_invoice_list_at_constant_queries(
    client: Any, staff: Any, tenant: Company, django_assert_max_num_queries: Any
) -> None:
    customer = factories.make_customer(tenant)
    for _ in range(30):
        factories.make_invoice(tenant, customer, lines=3)
    client.force_login(staff)
    url = reverse("admin:invoices_invoice_changelist")
    # Session, user, memberships (scoping), count, total count, the page of invoices with
    # customer and company joined, filter facets and the date hierarchy: about a dozen,
    # whatever the number of invoices. A per-row query would make this page grow with the list.
    with django_assert_max_num_queries(16):
        response = client.get(url)
    assert response.status_code == 200


def test_it_refuses_writes_to_read_only_staff(client: Any, viewer: Any, tenant: Company) -> None:
    invoice = factories.make_invoice(tenant, status="draft")
    client.force_login(viewer)
    url = reverse("admin:invoices_invoice_change", args=[invoice.pk])
    assert client.get(url).status_code == 200  # may read
    response = client.post(
        reverse("admin:invoices_invoice_changelist"),
        {"action": "finalize", "_selected_action": [invoice.pk]},
    )
    invoice.refresh_from_db()
    assert invoice.status == "draft"
    assert response.status_code in (200, 302, 403)


def test_it_finalizes_through_the_admin_action(client: Any, staff: Any, tenant: Company) -> None:
    invoice = factories.make_invoice(tenant, status="draft")
    client.force_login(staff)
    client.post(
        reverse("admin:invoices_invoice_changelist"),
        {"action": "finalize", "_selected_action": [invoice.pk]},
    )
    invoice.refresh_from_db()
    assert invoice.status == "open"
    assert invoice.status_changes.get().to_status == "open"


def test_it_shows_a_new_api_key_once_and_stores_only_its_hash(
    client: Any, owner: Any, tenant: Company
) -> None:
    client.force_login(owner)
    response = client.post(
        reverse("admin:invoices_apikey_add"), {"company": tenant.pk, "name": "ci"}, follow=True
    )
    body = response.content.decode()
    key = ApiKey.objects.get(name="ci")
    raw = body.split("it will not be shown again): ")[1].split("<")[0].strip()
    assert raw.startswith("ipk_")
    assert raw not in key.key_hash
    assert key.key_hash == __import__("hashlib").sha256(raw.encode()).hexdigest()


def test_every_admin_of_tenant_data_is_scoped() -> None:
    """Any admin whose model belongs to a company (directly or through an invoice or customer)
    must scope by tenant: TenantScopedAdmin answers 404 for another company's objects."""
    from django.contrib import admin

    from invoices.admin_scoping import TenantScopedAdmin

    tenant_links = {"company", "invoice", "customer"}
    for model, model_admin in admin.site._registry.items():
        fields = {f.name for f in model._meta.fields}
        if fields & tenant_links or model._meta.label == "invoices.Company":
            assert isinstance(model_admin, TenantScopedAdmin), model._meta.label


def test_it_numbers_an_invoice_added_in_the_admin(
    client: Any, staff: Any, tenant: Company, customer: Any
) -> None:
    factories.make_invoice(tenant, customer)  # INV-00001 exists already
    client.force_login(staff)
    url = reverse("admin:invoices_invoice_add")
    # Every inline the add page shows (lines, and those other apps add) posts its management form.
    management: dict[str, Any] = {}
    for inline in client.get(url).context["inline_admin_formsets"]:
        form = inline.formset.management_form
        management |= {form.add_prefix(name): value for name, value in form.initial.items()}
    response = client.post(
        url,
        management
        | {
            "company": tenant.pk,
            "customer": customer.pk,
            "currency": "usd",
            "issue_date": "2030-01-01",
            "due_date": "2030-01-31",
            "notes": "",
            "comment_write_mode": "",
            "lines-TOTAL_FORMS": "1",
            "lines-0-position": "0",
            "lines-0-description": "Consulting",
            "lines-0-quantity": "2",
            "lines-0-unit_amount": "12.50",
            "lines-0-tax_rate": "10",
        },
    )
    assert response.status_code == 302, response.context["errors"]
    invoice = tenant.invoices.get(issue_date="2030-01-01")
    assert invoice.number == "INV-00002"
    assert (invoice.subtotal, invoice.tax_total, invoice.total) == (2500, 250, 2750)
    assert invoice.status == "draft"
