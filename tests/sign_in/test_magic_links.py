"""Magic links through the API: page names only, bounded lifetimes, one use, the Continue
step, and the key's own company only. Staff sign customers out (API and admin)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from invoices.customer_sessions.models import CustomerSession
from invoices.models import AuditEvent, Company, Customer
from invoices.services import api_key_create
from tests import factories


def make_link(api_client: Any, customer: Customer, body: Any = None, **extra: Any) -> Any:
    return api_client.post(
        f"/api/v1/customers/{customer.public_id}/sign-in-link",
        data=body if isinstance(body, str) else json.dumps(body or {}),
        content_type="application/json",
        **extra,
    )


def path_of(response: Any) -> str:
    return urlsplit(response.json()["url"]).path


PAGES = {
    "home": "",
    "invoices": "/invoices",
    "credit_notes": "/credit-notes",
    "payments": "/payments",
    "statement": "/statement",
    "billing_details": "/billing-details",
}


@pytest.mark.parametrize(("page", "suffix"), sorted(PAGES.items()))
def test_it_lands_on_the_page_named(
    api_client: Any, client: Any, customer: Customer, page: str, suffix: str
) -> None:
    response = make_link(api_client, customer, {"redirect_to": page})
    assert response.status_code == 201
    path = path_of(response)
    assert path.startswith("/sign-in/")
    api_client.defaults.pop("HTTP_AUTHORIZATION")
    assert client.post(path)["Location"] == f"/portal/{factories.portal_token(customer)}{suffix}"


def test_it_lands_on_one_invoice(api_client: Any, customer: Customer, tenant: Company) -> None:
    invoice = factories.make_invoice(tenant, customer)
    response = make_link(
        api_client, customer, {"redirect_to": "invoice", "invoice": invoice.public_id}
    )
    assert response.status_code == 201
    location = api_client.post(path_of(response))["Location"]
    assert location == f"/invoice/{factories.share_token(invoice)}"


def test_it_defaults_to_home_for_an_hour(api_client: Any, customer: Customer) -> None:
    before = timezone.now()
    response = make_link(api_client, customer)
    assert response.status_code == 201
    expires_at = dt.datetime.fromisoformat(response.json()["expires_at"])
    assert (
        before + dt.timedelta(seconds=3590) < expires_at <= timezone.now() + dt.timedelta(hours=1)
    )
    no_body = api_client.post(f"/api/v1/customers/{customer.public_id}/sign-in-link")
    assert no_body.status_code == 201


@pytest.mark.parametrize(
    "body",
    [
        {"redirect_to": "https://evil.example/"},
        {"redirect_to": "/portal/x"},
        {"redirect_to": "HOME"},
        {"redirect_to": None},
        {"redirect_to": "invoice"},
        {"redirect_to": "home", "invoice": "inv_x"},
        {"redirect_to": "invoice", "invoice": "inv_nope"},
        {"expires_in": 59},
        {"expires_in": 604801},
        {"expires_in": "3600"},
        {"expires_in": 3600.5},
        {"expires_in": True},
        {"expires_in": None},
        {"redirect": "home"},
        [],
        "not json",
    ],
)
def test_it_refuses_anything_but_a_page_name_and_a_lifetime_in_range(
    api_client: Any, customer: Customer, body: Any
) -> None:
    response = make_link(api_client, customer, body if not isinstance(body, list) else "[]")
    assert response.status_code in (400, 422), body
    assert "error" in response.json()
    assert not CustomerSession.objects.exists()


def test_it_accepts_the_lifetime_bounds(api_client: Any, customer: Customer) -> None:
    for seconds in (60, 604800):
        assert make_link(api_client, customer, {"expires_in": seconds}).status_code == 201


def test_it_refuses_another_companys_invoice(
    api_client: Any, customer: Customer, other_tenant: Company
) -> None:
    theirs = factories.make_invoice(other_tenant)
    response = make_link(
        api_client, customer, {"redirect_to": "invoice", "invoice": theirs.public_id}
    )
    assert response.status_code == 400


def test_it_checks_ownership(client: Any, customer: Customer, other_tenant: Company) -> None:
    other_key = api_key_create(company=other_tenant)[1]
    response = make_link(client, customer, {}, HTTP_AUTHORIZATION=f"Bearer {other_key}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    signed_out = client.post(
        f"/api/v1/customers/{customer.public_id}/sign-out", HTTP_AUTHORIZATION=f"Bearer {other_key}"
    )
    assert signed_out.status_code == 404


def test_the_link_shows_continue_and_works_once(
    api_client: Any, customer: Customer, client: Any
) -> None:
    path = path_of(make_link(api_client, customer))
    api_client.defaults.pop("HTTP_AUTHORIZATION")
    page = client.get(path)
    assert page.status_code == 200
    assert b"Continue" in page.content and b'method="post"' in page.content
    assert not CustomerSession.objects.exists()
    assert client.post(path).status_code == 303
    again = client.post(path)
    assert again.status_code == 404 and b"Invoice not found" in again.content
    assert client.get(path).status_code == 404


def test_it_expires_when_asked(
    api_client: Any, customer: Customer, client: Any, monkeypatch: Any
) -> None:
    path = path_of(make_link(api_client, customer, {"expires_in": 60}))
    later = timezone.now() + dt.timedelta(seconds=61)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert client.post(path).status_code == 404


# Staff control ----------------------------------------------------------------------------


def signed_in_client(api_client: Any, customer: Customer, client_class: Any) -> Any:
    browser = client_class()
    path = path_of(make_link(api_client, customer))
    assert browser.post(path).status_code == 303
    return browser


def test_the_api_signs_a_customer_out_everywhere(
    api_client: Any, customer: Customer, client: Any
) -> None:
    browsers = [signed_in_client(api_client, customer, type(client)) for _ in range(2)]
    pending = path_of(make_link(api_client, customer))
    response = api_client.post(f"/api/v1/customers/{customer.public_id}/sign-out")
    assert response.status_code == 200
    assert response.json() == {"sessions_ended": 2}
    for browser in browsers:
        assert browser.get("/c/tenant/").status_code == 200  # the form again: signed out
    assert type(client)().post(pending).status_code == 404  # unused links die too
    assert AuditEvent.objects.filter(action="customer.signed_out_everywhere").exists()


def test_changing_the_email_signs_the_customer_out(
    api_client: Any, customer: Customer, client: Any
) -> None:
    browser = signed_in_client(api_client, customer, type(client))
    assert browser.get("/c/tenant/").status_code == 303
    response = api_client.patch(
        f"/api/v1/customers/{customer.public_id}",
        data='{"email": "new@example.com"}',
        content_type="application/json",
    )
    assert response.status_code == 200
    assert browser.get("/c/tenant/").status_code == 200
    event = AuditEvent.objects.get(action="customer.signed_out_everywhere")
    assert event.data["reason"] == "email_changed"


def test_the_admin_lists_sessions_and_signs_out(
    api_client: Any, customer: Customer, client: Any, staff: Any, outsider: Any
) -> None:
    browser = signed_in_client(api_client, customer, type(client))
    admin = type(client)()
    admin.force_login(staff)
    listing = admin.get("/admin/customer_sessions/customersession/?live=yes")
    assert listing.status_code == 200
    assert b"Ada Lovelace" in listing.content
    page = admin.get(f"/admin/invoices/customer/{customer.pk}/change/")
    assert page.status_code == 200
    assert b"Active sessions" in page.content

    # Another company's staff see nothing of it.
    stranger = type(client)()
    stranger.force_login(outsider)
    assert b"Ada Lovelace" not in stranger.get("/admin/customer_sessions/customersession/").content

    response = admin.post(
        "/admin/invoices/customer/",
        {"action": "sign_out_everywhere", "_selected_action": [customer.pk]},
    )
    assert response.status_code == 302
    assert browser.get("/c/tenant/").status_code == 200
    assert not CustomerSession.objects.filter(revoked_at__isnull=True).exists()


def test_every_sign_in_is_audited(api_client: Any, customer: Customer, client: Any) -> None:
    signed_in_client(api_client, customer, type(client))
    event = AuditEvent.objects.get(action="customer.signed_in")
    assert event.company_id == customer.company_id
    assert event.object_id == customer.public_id
    assert event.data["via"] == "api"


# The single sign-on setting ------------------------------------------------------------------


def test_the_company_api_sets_the_sign_in_url(
    api_client: Any, tenant: Company, client: Any
) -> None:
    assert api_client.get("/api/v1/company").json()["portal_sign_in_url"] == ""
    response = api_client.patch(
        "/api/v1/company",
        data='{"portal_sign_in_url": "https://app.example.com/sso"}',
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json()["portal_sign_in_url"] == "https://app.example.com/sso"
    api_client.defaults.pop("HTTP_AUTHORIZATION")
    assert client.get("/c/tenant/")["Location"] == "https://app.example.com/sso?return_to=home"


@pytest.mark.parametrize("url", ["javascript:alert(1)", "ftp://example.com/", "not a url"])
def test_the_company_api_refuses_a_bad_sign_in_url(
    api_client: Any, tenant: Company, url: str
) -> None:
    response = api_client.patch(
        "/api/v1/company",
        data=json.dumps({"portal_sign_in_url": url}),
        content_type="application/json",
    )
    assert response.status_code == 400
    tenant.refresh_from_db()
    assert tenant.portal_sign_in_url == ""


def test_the_admin_offers_the_sign_in_url(client: Any, tenant: Company, owner: Any) -> None:
    client.force_login(owner)
    page = client.get(f"/admin/invoices/company/{tenant.pk}/change/")
    assert b'name="portal_sign_in_url"' in page.content
