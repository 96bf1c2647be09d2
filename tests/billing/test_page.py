"""The billing details page: only the fields the company allows, each checked on the server."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from invoices.models import AuditEvent, Company, Customer
from invoices.models.company import Role
from portal.billing.models import BillingEmailChange
from portal.billing.selectors import billing_details_editable
from tests import factories

from .conftest import ALL_GROUPS, allow, confirm_link, messages_to

pytestmark = pytest.mark.django_db

CONTRACT_HEADERS = {
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex, nofollow",
    "Referrer-Policy": "no-referrer",
}


def _url(token: str) -> str:
    return f"/portal/{token}/billing-details"


def _not_found(response: Any) -> None:
    assert response.status_code == 404
    assert b"Invoice not found" in response.content


def test_it_only_shows_the_details_when_the_company_allows_no_change(
    client: Any, customer: Customer, portal_token: str
) -> None:
    response = client.get(_url(portal_token) + "?lang=en")
    assert response.status_code == 200
    body = response.content.decode()
    assert "ada@example.com" in body
    assert "<form" not in body.split("<main", 1)[1]
    assert "To change these, contact Tenant Ltd." in body
    for name, value in CONTRACT_HEADERS.items():
        assert response[name] == value
    assert "Content-Security-Policy" in response


def test_it_refuses_a_field_the_company_does_not_allow(
    client: Any, tenant: Company, customer: Customer, portal_token: str
) -> None:
    allow(tenant, ["name"])
    response = client.post(
        _url(portal_token) + "?lang=en", {"name": "Ada Ltd", "tax_id": "DE136695976"}
    )
    assert response.status_code == 400
    assert "Tax id cannot be changed here" in response.content.decode()
    customer.refresh_from_db()
    assert (customer.name, customer.tax_id) == ("Ada Lovelace", "")
    # The page offers only the allowed field.
    body = client.get(_url(portal_token)).content.decode()
    assert 'name="name"' in body and 'name="tax_id"' not in body


@pytest.mark.parametrize("field", ["email", "billing_email", "preferred_language", "country"])
def test_it_refuses_every_field_when_none_is_allowed(
    client: Any, customer: Customer, portal_token: str, field: str
) -> None:
    response = client.post(_url(portal_token), {field: "x"})
    assert response.status_code == 400
    assert BillingEmailChange.objects.count() == 0
    customer.refresh_from_db()
    assert customer.email == "ada@example.com"


def test_it_saves_the_allowed_fields_and_audits_them(
    client: Any, tenant: Company, customer: Customer, portal_token: str
) -> None:
    allow(tenant, ALL_GROUPS)
    response = client.post(
        _url(portal_token) + "?lang=en",
        {
            "name": "Ada Lovelace Ltd",
            "address_line1": "12 St James's Square",
            "postal_code": "SW1Y 4JH",
            "city": "London",
            "country": "GB",
            "phone": "+44 20 7946 0000",
            "tax_id": "GB 980 7806 84",
            "buyer_reference": "PO-2026-17",
            "preferred_language": "de",
            "email": "ada@example.com",
        },
    )
    assert response.status_code == 303
    assert response["Location"] == f"/portal/{portal_token}/billing-details?saved=1&lang=en"
    customer.refresh_from_db()
    assert customer.name == "Ada Lovelace Ltd"
    assert customer.address_lines == ["12 St James's Square", "SW1Y 4JH London", "GB"]
    assert customer.phone == "+44 20 7946 0000"
    assert customer.tax_id == "GB980780684"
    assert customer.buyer_reference == "PO-2026-17"
    assert customer.preferred_language == "de"
    event = AuditEvent.objects.get(action="customer.updated", object_id=customer.public_id)
    assert event.actor is None
    assert event.data["source"] == "portal"
    assert event.data["values"]["name"] == {"from": "Ada Lovelace", "to": "Ada Lovelace Ltd"}
    assert "email" not in event.data["fields"]
    saved = client.get(response["Location"])
    assert "Your billing details were saved." in saved.content.decode()


def test_it_shows_every_error_and_changes_nothing(
    client: Any, open_company: Company, customer: Customer, portal_token: str
) -> None:
    response = client.post(
        _url(portal_token) + "?lang=en",
        {
            "name": "",
            "country": "DE",
            "tax_id": "DE136695977",  # one digit off: the check digit fails
            "phone": "call me",
            "email": "not-an-address",
            "preferred_language": "xx",
            "buyer_reference": "PO-1",
        },
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert 'role="alert"' in body
    for field in ("name", "tax_id", "phone", "email", "preferred_language"):
        assert f'id="billing-{field}-error"' in body
        assert f'href="#billing-{field}"' in body
    assert 'aria-invalid="true"' in body
    assert 'value="DE136695977"' in body  # what was typed stays to be corrected
    customer.refresh_from_db()
    assert (customer.country, customer.buyer_reference, customer.tax_id) == ("", "", "")
    assert not AuditEvent.objects.filter(action="customer.updated").exists()


@pytest.mark.parametrize(
    "country,typed,stored",
    [
        ("DE", "136 695 976", "DE136695976"),
        ("", "de136695976", "DE136695976"),
        ("FR", "FR 40 303 265 045", "FR40303265045"),
        ("CH", "CHE-116.281.710 MWST", "CHE116281710MWST"),
        ("US", "12-3456789", "123456789"),
    ],
)
def test_it_checks_tax_ids_by_country(
    client: Any,
    open_company: Company,
    customer: Customer,
    portal_token: str,
    country: str,
    typed: str,
    stored: str,
) -> None:
    response = client.post(_url(portal_token), {"country": country, "tax_id": typed})
    assert response.status_code == 303
    customer.refresh_from_db()
    assert customer.tax_id == stored


@pytest.mark.parametrize(
    "country,typed", [("DE", "136695977"), ("", "FR00303265045"), ("GB", "GB980780685")]
)
def test_it_refuses_tax_ids_whose_check_digit_fails(
    client: Any,
    open_company: Company,
    customer: Customer,
    portal_token: str,
    country: str,
    typed: str,
) -> None:
    response = client.post(_url(portal_token), {"country": country, "tax_id": typed})
    assert response.status_code == 400
    customer.refresh_from_db()
    assert customer.tax_id == ""


def test_issued_invoices_keep_their_buyer(
    client: Any, open_company: Company, customer: Customer, portal_token: str
) -> None:
    issued = factories.make_invoice(open_company, customer)
    draft = factories.make_invoice(open_company, customer, status="draft")
    issued.refresh_from_db()
    snapshot = dict(issued.buyer_snapshot)
    response = client.post(_url(portal_token), {"name": "Someone Else GmbH", "city": "Berlin"})
    assert response.status_code == 303
    issued.refresh_from_db()
    draft.refresh_from_db()
    assert issued.buyer_snapshot == snapshot
    assert issued.buyer_snapshot["name"] == "Ada Lovelace"
    assert draft.buyer_snapshot == {}  # a draft shows the live details until it is issued


@pytest.mark.parametrize("method", ["get", "post"])
def test_it_answers_bad_tokens_with_the_one_not_found_page(client: Any, method: str) -> None:
    for token in ("nope", "0" * 54):
        _not_found(getattr(client, method)(_url(token)))


def test_it_checks_ownership(
    client: Any, open_company: Company, other_tenant: Company, customer: Customer
) -> None:
    """Another customer's link changes only that customer."""
    neighbour = factories.make_customer(open_company)
    client.post(_url(factories.portal_token(neighbour)), {"name": "Changed"})
    customer.refresh_from_db()
    assert customer.name == "Ada Lovelace"


def test_it_keeps_a_constant_query_count(
    client: Any,
    open_company: Company,
    customer: Customer,
    portal_token: str,
    django_assert_num_queries: Any,
) -> None:
    # 1. the customer and company from the portal token; 2. whether the customer has documents
    # (the Documents tab); 3. a pending billing email change.
    with django_assert_num_queries(3):
        assert client.get(_url(portal_token)).status_code == 200


def test_the_navigation_asks_without_a_query(
    tenant: Company, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(0):
        assert billing_details_editable(company=tenant) is False
    allow(tenant, ["phone"])
    with django_assert_num_queries(0):
        assert billing_details_editable(company=tenant) is True


# The billing email ------------------------------------------------------------------------


def test_a_new_billing_email_waits_for_its_confirmation(
    client: Any,
    settings: Any,
    open_company: Company,
    customer: Customer,
    portal_token: str,
    smtp_server: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.PUBLIC_BASE_URL = "http://portal.example.com"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_url(portal_token), {"email": "billing@ada.example"})
    assert response.status_code == 303
    customer.refresh_from_db()
    assert customer.email == "ada@example.com"  # not yet
    page = client.get(response["Location"]).content.decode()
    assert "We sent a confirmation link to billing@ada.example." in page

    [to_new] = messages_to(smtp_server, "billing@ada.example")
    [to_old] = messages_to(smtp_server, "ada@example.com")
    assert "billing@ada.example" in to_old and "/portal/billing-email/" not in to_old
    link = confirm_link(to_new)
    path = link.removeprefix("http://portal.example.com")
    assert portal_token not in link  # the new address gets no key to the account

    # A GET (a mail scanner) changes nothing.
    shown = client.get(path)
    assert shown.status_code == 200
    assert "Confirm this address" in shown.content.decode()
    customer.refresh_from_db()
    assert customer.email == "ada@example.com"

    confirmed = client.post(path)
    assert confirmed.status_code == 200
    assert "now go to billing@ada.example" in confirmed.content.decode()
    customer.refresh_from_db()
    assert customer.email == "billing@ada.example"
    event = AuditEvent.objects.get(action="customer.updated", object_id=customer.public_id)
    assert event.data["values"]["email"] == {"from": "ada@example.com", "to": "billing@ada.example"}
    assert AuditEvent.objects.filter(action="customer.billing_email_change_requested").exists()

    # Once only.
    _not_found(client.post(path))
    _not_found(client.get(path))


def test_the_link_stores_nothing_usable_and_expires(
    client: Any,
    open_company: Company,
    customer: Customer,
    portal_token: str,
    django_capture_on_commit_callbacks: Any,
    mailoutbox: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        client.post(_url(portal_token), {"email": "billing@ada.example"})
    link = confirm_link(mailoutbox[0].body)
    path = "/" + link.split("/", 3)[3]
    change = BillingEmailChange.objects.get()
    token = path.rsplit("/", 1)[1]
    assert change.selector in token and token != change.selector
    _not_found(client.get(f"/portal/billing-email/{change.selector}"))
    _not_found(client.get(path[:-1] + ("A" if path[-1] != "A" else "B")))
    BillingEmailChange.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    _not_found(client.get(path))
    _not_found(client.post(path))
    customer.refresh_from_db()
    assert customer.email == "ada@example.com"


def test_a_newer_request_replaces_the_older_link(
    client: Any,
    open_company: Company,
    customer: Customer,
    portal_token: str,
    django_capture_on_commit_callbacks: Any,
    mailoutbox: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        client.post(_url(portal_token), {"email": "first@ada.example"})
        client.post(_url(portal_token), {"email": "second@ada.example"})
    first = "/" + confirm_link(mailoutbox[0].body).split("/", 3)[3]
    second = "/" + confirm_link(mailoutbox[2].body).split("/", 3)[3]
    _not_found(client.post(first))
    assert client.post(second).status_code == 200
    customer.refresh_from_db()
    assert customer.email == "second@ada.example"


def test_it_limits_email_changes(
    client: Any, open_company: Company, customer: Customer, portal_token: str
) -> None:
    for n in range(5):
        assert client.post(_url(portal_token), {"email": f"b{n}@ada.example"}).status_code == 303
    response = client.post(_url(portal_token), {"email": "b9@ada.example"})
    assert response.status_code == 429
    assert BillingEmailChange.objects.count() == 5


def test_staff_see_the_changes_in_the_customer_history(
    client: Any, open_company: Company, customer: Customer, portal_token: str
) -> None:
    client.post(_url(portal_token), {"name": "Ada Lovelace Ltd", "email": "new@ada.example"})
    staff = factories.make_staff(open_company, Role.VIEWER, username="reader")
    client.force_login(staff)
    page = client.get(reverse("admin:invoices_customer_change", args=[customer.pk]))
    body = page.content.decode()
    assert "Change history" in body
    assert "customer.updated" in body and "portal" in body
    assert "Ada Lovelace → Ada Lovelace Ltd" in body
    assert "customer.billing_email_change_requested" in body


@pytest.mark.parametrize(
    "lang,text", [("de", "Rechnungsdaten"), ("fr", "Coordonnées"), ("es", "Datos de facturación")]
)
def test_it_speaks_the_customers_language(
    client: Any, open_company: Company, portal_token: str, lang: str, text: str
) -> None:
    response = client.get(_url(portal_token) + f"?lang={lang}")
    assert response["Content-Language"] == lang
    assert text in response.content.decode()


def test_the_account_tabs_show_billing_details_only_when_a_field_is_editable(
    client: Any, tenant: Company, portal_token: str
) -> None:
    for path in ("", "/payments", "/billing-details"):
        html = client.get(f"/portal/{portal_token}{path}").content.decode()
        assert 'data-tab="billing-details"' not in html
    allow(tenant, ["buyer_reference"])
    for path in ("", "/payments", "/billing-details"):
        html = client.get(f"/portal/{portal_token}{path}").content.decode()
        assert 'data-tab="billing-details"' in html, path


def test_staff_changes_in_the_admin_join_the_history(
    client: Any, tenant: Company, customer: Customer
) -> None:
    staff = factories.make_staff(tenant, Role.MANAGER, username="editor")
    client.force_login(staff)
    url = reverse("admin:invoices_customer_change", args=[customer.pk])
    form = client.get(url).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None}
    data["company"] = tenant.pk
    data["city"] = "Paris"
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    event = AuditEvent.objects.get(action="customer.updated", object_id=customer.public_id)
    assert event.actor == staff
    assert event.data["values"] == {"city": {"from": "", "to": "Paris"}}
    assert "editor" in client.get(url).content.decode()
