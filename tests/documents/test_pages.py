"""The customer's documents: the list and downloads under the portal token."""

from __future__ import annotations

from typing import Any

import pytest

from invoices.models import Company, Customer
from portal.documents.models import DocumentAudience, DocumentVisibility
from portal.documents.selectors import customer_has_documents
from tests import factories

from .conftest import CSV_TEXT, PDF, make_document

pytestmark = pytest.mark.django_db

CONTRACT_HEADERS = {
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex, nofollow",
    "Referrer-Policy": "no-referrer",
}


def _not_found(response: Any) -> None:
    assert response.status_code == 404
    assert b"Invoice not found" in response.content


def test_it_lists_the_documents_shared_with_the_customer(
    client: Any, tenant: Company, customer: Customer, portal_token: str
) -> None:
    mine = make_document(tenant, customer=customer, title="Framework contract")
    everyone = make_document(
        tenant, audience=DocumentAudience.ALL_CUSTOMERS, title="Price list", data=CSV_TEXT
    )
    invoice = factories.make_invoice(tenant, customer)
    for_invoice = make_document(
        tenant, audience=DocumentAudience.INVOICE, invoice=invoice, title="Delivery note"
    )
    response = client.get(f"/portal/{portal_token}/documents?lang=en")
    assert response.status_code == 200
    body = response.content.decode()
    for document in (mine, everyone, for_invoice):
        assert document.title in body
        assert f"/portal/{portal_token}/documents/{document.public_id}" in body
    assert invoice.number in body
    assert "CSV spreadsheet" in body
    for name, value in CONTRACT_HEADERS.items():
        assert response[name] == value
    assert "Content-Security-Policy" in response


def test_it_hides_what_is_not_the_customers(
    client: Any, tenant: Company, other_tenant: Company, customer: Customer, portal_token: str
) -> None:
    neighbour = factories.make_customer(tenant)
    hidden = [
        make_document(tenant, customer=customer, visibility=DocumentVisibility.STAFF),
        make_document(
            tenant, audience=DocumentAudience.ALL_CUSTOMERS, visibility=DocumentVisibility.STAFF
        ),
        make_document(tenant, customer=neighbour),
        make_document(
            tenant,
            audience=DocumentAudience.INVOICE,
            invoice=factories.make_invoice(tenant, neighbour),
        ),
        # A draft is not issued: its documents wait with it.
        make_document(
            tenant,
            audience=DocumentAudience.INVOICE,
            invoice=factories.make_invoice(tenant, customer, status="draft"),
        ),
        make_document(other_tenant, audience=DocumentAudience.ALL_CUSTOMERS),
        make_document(other_tenant, customer=factories.make_customer(other_tenant)),
    ]
    response = client.get(f"/portal/{portal_token}/documents?lang=en")
    assert response.status_code == 200
    assert "There are no documents for you yet" in response.content.decode()
    assert not customer_has_documents(customer=customer)
    for document in hidden:
        _not_found(client.get(f"/portal/{portal_token}/documents/{document.public_id}"))


def test_it_downloads_as_an_attachment_that_is_never_sniffed_or_cached(
    client: Any, tenant: Company, customer: Customer, portal_token: str
) -> None:
    document = make_document(tenant, customer=customer, title="Vertrag März 2026")
    response = client.get(f"/portal/{portal_token}/documents/{document.public_id}")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "Vertrag" in response["Content-Disposition"]
    assert (
        response["Content-Disposition"].endswith(".pdf")
        or ".pdf" in response["Content-Disposition"]
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    for name, value in CONTRACT_HEADERS.items():
        assert response[name] == value


def test_it_serves_the_sniffed_type_whatever_the_title_says(
    client: Any, tenant: Company, customer: Customer, portal_token: str
) -> None:
    document = make_document(tenant, customer=customer, title="report.html", data=CSV_TEXT)
    response = client.get(f"/portal/{portal_token}/documents/{document.public_id}")
    assert response["Content-Type"] == "text/csv"
    assert 'filename="report.html.csv"' in response["Content-Disposition"]


@pytest.mark.parametrize("suffix", ["documents", "documents/doc_x", "documents/../x"])
def test_it_answers_bad_tokens_with_the_one_not_found_page(client: Any, suffix: str) -> None:
    for token in ("nope", "0" * 54, "a" * 32 + "b" * 22):
        _not_found(client.get(f"/portal/{token}/{suffix}"))


def test_it_checks_ownership(
    client: Any, tenant: Company, other_tenant: Company, customer: Customer
) -> None:
    """A document of the customer, opened with another customer's (or company's) link."""
    document = make_document(tenant, customer=customer)
    for outsider in (factories.make_customer(tenant), factories.make_customer(other_tenant)):
        token = factories.portal_token(outsider)
        _not_found(client.get(f"/portal/{token}/documents/{document.public_id}"))
        assert document.title not in client.get(f"/portal/{token}/documents").content.decode()


def test_it_stops_at_once_when_staff_unshare(
    client: Any, tenant: Company, customer: Customer, portal_token: str
) -> None:
    document = make_document(tenant, customer=customer)
    url = f"/portal/{portal_token}/documents/{document.public_id}"
    assert client.get(url).status_code == 200
    document.visibility = DocumentVisibility.STAFF
    document.save(update_fields=["visibility"])
    _not_found(client.get(url))


def test_it_keeps_a_constant_query_count(
    client: Any,
    tenant: Company,
    customer: Customer,
    portal_token: str,
    django_assert_num_queries: Any,
) -> None:
    invoice = factories.make_invoice(tenant, customer)
    make_document(tenant, customer=customer)
    url = f"/portal/{portal_token}/documents?lang=en"
    # 1. the customer and company from the portal token; 2. the documents with their invoices.
    with django_assert_num_queries(2):
        assert client.get(url).status_code == 200
    for _ in range(10):
        make_document(tenant, audience=DocumentAudience.INVOICE, invoice=invoice)
        make_document(tenant, audience=DocumentAudience.ALL_CUSTOMERS)
    with django_assert_num_queries(2):
        assert client.get(url).status_code == 200
    document = make_document(tenant, customer=customer)
    # 1. the customer from the token; 2. the document if this customer may open it.
    with django_assert_num_queries(2):
        response = client.get(f"/portal/{portal_token}/documents/{document.public_id}")
        assert response.status_code == 200


def test_it_tells_the_navigation_whether_there_is_anything(
    tenant: Company, customer: Customer, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(1):  # one EXISTS
        assert customer_has_documents(customer=customer) is False
    make_document(tenant, audience=DocumentAudience.ALL_CUSTOMERS)
    assert customer_has_documents(customer=customer) is True


@pytest.mark.parametrize(
    "lang,text", [("de", "Dokumente"), ("fr", "Documents"), ("es", "Documentos")]
)
def test_it_speaks_the_customers_language(
    client: Any, customer: Customer, portal_token: str, lang: str, text: str
) -> None:
    response = client.get(f"/portal/{portal_token}/documents?lang={lang}")
    assert response["Content-Language"] == lang
    assert text in response.content.decode()


def test_the_account_tabs_show_documents_only_when_there_are_some(
    client: Any, tenant: Company, customer: Customer, portal_token: str
) -> None:
    for path in ("", "/invoices", "/statement", "/documents", "/billing-details"):
        assert (
            'data-tab="documents"'
            not in client.get(f"/portal/{portal_token}{path}").content.decode()
        )
    make_document(tenant, audience=DocumentAudience.ALL_CUSTOMERS)
    for path in ("", "/invoices", "/statement", "/documents", "/billing-details"):
        html = client.get(f"/portal/{portal_token}{path}").content.decode()
        assert 'data-tab="documents"' in html, path
    html = client.get(f"/portal/{portal_token}/documents").content.decode()
    assert f'href="/portal/{portal_token}/documents?lang=en" aria-current="page"' in html
