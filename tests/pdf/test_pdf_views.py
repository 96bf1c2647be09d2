"""The three ways to get the PDF: the customer's share link, the API and the admin."""

from __future__ import annotations

from typing import Any

import pytest

from invoices import services
from invoices.models import Company, Customer, Invoice
from tests import factories
from tests.pdf.conftest import pdf_pages_text


@pytest.fixture
def invoice(tenant: Company, customer: Customer) -> Invoice:
    return factories.make_invoice(tenant, customer, lines=[("Design", "1", 10000, "0")])


@pytest.fixture
def token(invoice: Invoice) -> str:
    return factories.share_token(invoice)


# Customer route ----------------------------------------------------------------------------


def test_it_downloads_the_pdf_as_an_attachment(client: Any, token: str, invoice: Invoice) -> None:
    response = client.get(f"/invoice/{token}/pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="invoice-{invoice.number}.pdf"'
    assert response.content.startswith(b"%PDF-")
    assert int(response["Content-Length"]) == len(response.content)
    # The contract's headers for every customer-facing response.
    assert response["Cache-Control"] == "no-store"
    assert "noindex" in response["X-Robots-Tag"]
    assert response["Referrer-Policy"] == "no-referrer"
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


def test_it_shows_the_pdf_inline_for_the_page_preview(client: Any, token: str) -> None:
    response = client.get(f"/invoice/{token}/pdf?inline=1")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("inline;")
    # The invoice page frames it; no other site may.
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in response["Content-Security-Policy"]
    assert response["Cache-Control"] == "no-store"


def test_it_answers_the_not_found_page_for_a_bad_or_revoked_token(
    client: Any, token: str, invoice: Invoice
) -> None:
    not_found_page = client.get("/invoice/nonsense")
    forged = client.get(f"/invoice/{token[:-2]}xx/pdf")
    services.share_link_revoke(invoice=invoice)
    revoked = client.get(f"/invoice/{token}/pdf")
    assert not_found_page.status_code == forged.status_code == revoked.status_code == 404
    assert forged.content == revoked.content == not_found_page.content


def test_it_serves_a_stored_pdf_in_one_query(
    client: Any, token: str, django_assert_max_num_queries: Any
) -> None:
    client.get(f"/invoice/{token}/pdf")  # renders and stores it
    # A download must stay cheap however often a customer clicks it:
    # 1. the invoice (with company and customer) by its share link. Its lines are not read:
    # a finalized invoice's lines are frozen (invoices.document.lines_are_frozen).
    with django_assert_max_num_queries(1):
        response = client.get(f"/invoice/{token}/pdf")
    assert response.status_code == 200


def test_it_speaks_the_language_of_the_page(client: Any, token: str) -> None:
    response = client.get(f"/invoice/{token}/pdf", HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9")
    assert "100,00\xa0$" in pdf_pages_text(response.content)[0]


# API ---------------------------------------------------------------------------------------


def test_it_returns_the_pdf_to_the_api(api_client: Any, invoice: Invoice) -> None:
    response = api_client.get(f"/api/v1/invoices/{invoice.public_id}/pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="invoice-{invoice.number}.pdf"'
    assert "$100.00" in pdf_pages_text(response.content)[0]


def test_it_checks_ownership_in_the_api(api_client: Any, other_tenant: Company) -> None:
    theirs = factories.make_invoice(other_tenant, status="draft")
    response = api_client.get(f"/api/v1/invoices/{theirs.public_id}/pdf")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_it_rejects_an_unknown_language_in_the_api(api_client: Any, invoice: Invoice) -> None:
    response = api_client.get(f"/api/v1/invoices/{invoice.public_id}/pdf?lang=xx")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "lang"


def test_it_needs_an_api_key(client: Any, invoice: Invoice) -> None:
    assert client.get(f"/api/v1/invoices/{invoice.public_id}/pdf").status_code == 401


# Admin -------------------------------------------------------------------------------------


def test_it_downloads_from_the_admin(client: Any, staff: Any, invoice: Invoice) -> None:
    client.force_login(staff)
    change_page = client.get(f"/admin/invoices/invoice/{invoice.pk}/change/")
    url = f"/admin/invoices/invoice/{invoice.pk}/pdf/"
    assert url in change_page.content.decode()
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")


def test_it_checks_ownership_in_the_admin(client: Any, outsider: Any, invoice: Invoice) -> None:
    client.force_login(outsider)
    assert client.get(f"/admin/invoices/invoice/{invoice.pk}/pdf/").status_code == 404


def test_it_documents_the_pdf_route_in_the_openapi_schema(client: Any) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    operation = schema["paths"]["/api/v1/invoices/{invoice_id}/pdf"]["get"]
    assert "application/pdf" in operation["responses"]["200"]["content"]
