"""Documents in the admin: uploads sniffed, staff only by default, the audience count, roles."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from invoices.models import AuditEvent, Company, Customer
from portal.documents.models import Document, DocumentAudience, DocumentVisibility
from tests import factories

from .conftest import CSV_TEXT, PDF, make_document, upload

pytestmark = pytest.mark.django_db

ADD_URL = "admin:documents_document_add"


def _form(company: Company, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "company": company.pk,
        "title": "Framework contract",
        "file": upload(PDF, "contract.pdf"),
        "audience": DocumentAudience.CUSTOMER,
        "visibility": DocumentVisibility.STAFF,
    }
    data.update(overrides)
    return data


def test_it_uploads_a_document_for_staff_only_by_default(
    client: Any, staff: Any, tenant: Company, customer: Customer
) -> None:
    client.force_login(staff)
    page = client.get(reverse(ADD_URL))
    assert page.status_code == 200
    assert page.context["adminform"].form.initial.get("visibility", "staff") == "staff"
    response = client.post(reverse(ADD_URL), _form(tenant, customer=customer.pk))
    assert response.status_code == 302, response.context["adminform"].form.errors
    document = Document.objects.get()
    assert document.visibility == DocumentVisibility.STAFF
    assert document.content_type == "application/pdf"
    assert document.filename == "Framework_contract.pdf"
    assert document.size == len(PDF)
    assert document.file.read() == PDF
    assert "contract" not in document.file.name  # the stored name says nothing
    assert AuditEvent.objects.filter(
        company=tenant, action="document.created", object_id=document.public_id
    ).exists()


@pytest.mark.parametrize(
    "data,name",
    [
        (b"<html><script>alert(1)</script></html>", "list.csv"),
        (b"GIF89a" + b"\x00" * 40, "photo.png"),
        (b"MZ" + b"\x00" * 80, "contract.pdf"),
    ],
)
def test_it_refuses_files_whose_content_is_not_allowed(
    client: Any, staff: Any, tenant: Company, customer: Customer, data: bytes, name: str
) -> None:
    client.force_login(staff)
    response = client.post(
        reverse(ADD_URL), _form(tenant, customer=customer.pk, file=upload(data, name))
    )
    assert response.status_code == 200
    assert "file" in response.context["adminform"].form.errors
    assert not Document.objects.exists()


def test_it_requires_the_target_its_audience_names(
    client: Any, staff: Any, tenant: Company
) -> None:
    client.force_login(staff)
    for audience, field in ((DocumentAudience.CUSTOMER, "customer"), ("invoice", "invoice")):
        response = client.post(reverse(ADD_URL), _form(tenant, audience=audience))
        assert field in response.context["adminform"].form.errors
    assert not Document.objects.exists()


def test_it_refuses_another_companys_customer(
    client: Any, staff: Any, tenant: Company, other_tenant: Company
) -> None:
    client.force_login(staff)
    stranger = factories.make_customer(other_tenant)
    response = client.post(reverse(ADD_URL), _form(tenant, customer=stranger.pk))
    assert response.status_code in (200, 403)
    assert not Document.objects.exists()


def test_it_says_how_many_customers_can_see_each_file(
    client: Any, staff: Any, tenant: Company, customer: Customer, django_assert_max_num_queries: Any
) -> None:
    for _ in range(3):
        factories.make_customer(tenant)
    draft = factories.make_invoice(tenant, customer, status="draft")
    shared_all = make_document(tenant, audience=DocumentAudience.ALL_CUSTOMERS, title="All")
    staff_only = make_document(
        tenant, customer=customer, visibility=DocumentVisibility.STAFF, title="Internal"
    )
    one = make_document(tenant, customer=customer, title="Mine", data=CSV_TEXT)
    waiting = make_document(tenant, audience=DocumentAudience.INVOICE, invoice=draft, title="D")
    client.force_login(staff)
    response = client.get(reverse("admin:documents_document_changelist"))
    assert response.status_code == 200
    rows = {row.title: row for row in response.context["cl"].result_list}
    model_admin = response.context["cl"].model_admin
    assert model_admin.seen_by(rows[shared_all.title]) == 4
    assert model_admin.seen_by(rows[staff_only.title]) == 0
    assert model_admin.seen_by(rows[one.title]) == 1
    assert model_admin.seen_by(rows[waiting.title]) == 0
    assert "Customers who can see it" in response.content.decode()
    change = client.get(reverse("admin:documents_document_change", args=[shared_all.pk]))
    assert change.status_code == 200


def test_it_checks_ownership(
    client: Any, outsider: Any, tenant: Company, customer: Customer
) -> None:
    document = make_document(tenant, customer=customer)
    client.force_login(outsider)
    assert (
        client.get(reverse("admin:documents_document_changelist")).context["cl"].result_count == 0
    )
    response = client.get(reverse("admin:documents_document_change", args=[document.pk]))
    assert response.status_code == 404


def test_read_only_staff_cannot_upload(client: Any, viewer: Any, tenant: Company) -> None:
    client.force_login(viewer)
    assert client.get(reverse(ADD_URL)).status_code == 403


def test_it_deletes_the_stored_file_with_the_document(
    client: Any,
    staff: Any,
    tenant: Company,
    customer: Customer,
    media: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    document = make_document(tenant, customer=customer)
    path = media / document.file.name
    assert path.exists()
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:documents_document_delete", args=[document.pk]), {"post": "yes"}
        )
    assert response.status_code == 302
    assert not Document.objects.exists()
    assert not path.exists()
    assert AuditEvent.objects.filter(action="document.deleted").exists()
