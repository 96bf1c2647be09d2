"""Share links: idempotent, revocable, expiring, unusable from a database copy, never for drafts."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from invoices import services, tokens
from invoices.models import Company, Customer, Invoice, ShareLink
from invoices.tokens import TOKEN_LENGTH, make_token, new_selector
from tests import factories

pytestmark = pytest.mark.django_db


def test_it_returns_the_same_url_when_shared_again(invoice: Invoice) -> None:
    first = services.share_link_url(services.share_link_create(invoice=invoice))
    second = services.share_link_url(services.share_link_create(invoice=invoice))
    assert first == second
    assert ShareLink.objects.filter(invoice=invoice, revoked_at__isnull=True).count() == 1


def test_it_returns_the_same_portal_url_when_shared_again(customer: Customer) -> None:
    first = services.share_link_url(services.portal_link_create(customer=customer))
    second = services.share_link_url(services.portal_link_create(customer=customer))
    assert first == second
    assert first.endswith(services.share_link_token(services.portal_link_create(customer=customer)))


def test_it_carries_at_least_128_random_bits(invoice: Invoice) -> None:
    link = services.share_link_create(invoice=invoice)
    assert len(link.selector) == 32  # 16 random bytes from `secrets`, hex
    assert len(services.share_link_token(link)) == TOKEN_LENGTH


def test_it_stops_opening_as_soon_as_it_is_revoked(client: Any, invoice: Invoice) -> None:
    token = factories.share_token(invoice)
    assert client.get(f"/invoice/{token}").status_code == 200
    services.share_link_revoke(invoice=invoice)
    assert client.get(f"/invoice/{token}").status_code == 404
    # Sharing again mints a new URL; the revoked one stays dead.
    new_token = factories.share_token(invoice)
    assert new_token != token
    assert client.get(f"/invoice/{new_token}").status_code == 200
    assert client.get(f"/invoice/{token}").status_code == 404


def test_it_stops_opening_the_portal_once_revoked(client: Any, customer: Customer) -> None:
    token = factories.portal_token(customer)
    assert client.get(f"/portal/{token}").status_code == 200
    services.portal_link_revoke(customer=customer)
    assert client.get(f"/portal/{token}").status_code == 404


def test_it_stops_opening_after_the_expiry(
    client: Any, invoice: Invoice, monkeypatch: pytest.MonkeyPatch
) -> None:
    expires = timezone.now() + dt.timedelta(days=7)
    link = services.share_link_create(invoice=invoice, expires_at=expires)
    token = services.share_link_token(link)
    assert client.get(f"/invoice/{token}").status_code == 200
    later = expires + dt.timedelta(seconds=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert client.get(f"/invoice/{token}").status_code == 404
    # An expired link is replaced by a fresh one on the next share.
    assert services.share_link_token(services.share_link_create(invoice=invoice)) != token


def test_it_expires_portal_links_too(
    client: Any, customer: Customer, monkeypatch: pytest.MonkeyPatch
) -> None:
    expires = timezone.now() + dt.timedelta(hours=1)
    token = services.share_link_token(
        services.portal_link_create(customer=customer, expires_at=expires)
    )
    assert client.get(f"/portal/{token}").status_code == 200
    monkeypatch.setattr(timezone, "now", lambda: expires + dt.timedelta(seconds=1))
    assert client.get(f"/portal/{token}").status_code == 404


def test_it_never_shares_a_draft(tenant: Company, customer: Customer) -> None:
    draft = factories.make_invoice(tenant, customer, status="draft")
    with pytest.raises(ValueError, match="draft"):
        services.share_link_create(invoice=draft)
    assert not ShareLink.objects.filter(invoice=draft).exists()


def test_it_hides_drafts_from_the_portal(
    client: Any, tenant: Company, customer: Customer, portal_token: str
) -> None:
    draft = factories.make_invoice(tenant, customer, status="draft")
    shown = factories.make_invoice(tenant, customer)
    body = client.get(f"/portal/{portal_token}").content.decode()
    assert shown.number in body
    assert draft.number not in body
    assert not ShareLink.objects.filter(invoice=draft).exists()


def test_it_opens_nothing_with_what_the_database_holds(
    client: Any, invoice: Invoice, customer: Customer
) -> None:
    services.share_link_create(invoice=invoice)
    services.portal_link_create(customer=customer)
    for link in ShareLink.objects.all():
        # A dump has the selector (and every other column) but not the server-side key.
        for guess in (link.selector, link.selector + "A" * (TOKEN_LENGTH - len(link.selector))):
            assert client.get(f"/invoice/{guess}").status_code == 404
            assert client.get(f"/portal/{guess}").status_code == 404


def test_it_refuses_a_token_of_the_other_kind(client: Any, token: str, portal_token: str) -> None:
    assert client.get(f"/portal/{token}").status_code == 404
    assert client.get(f"/invoice/{portal_token}").status_code == 404


def test_it_refuses_a_genuine_token_without_a_link(client: Any, db: Any) -> None:
    token = make_token(new_selector(), purpose=tokens.SHARE_LINK_PURPOSE)
    assert client.get(f"/invoice/{token}").status_code == 404


def test_it_gives_each_portal_row_its_own_invoice_link(tenant: Company, customer: Customer) -> None:
    invoices = [factories.make_invoice(tenant, customer) for _ in range(3)]
    existing = services.share_link_create(invoice=invoices[0])
    links = services.share_links_for_portal(invoices=invoices)
    assert set(links) == {inv.pk for inv in invoices}
    assert links[invoices[0].pk].selector == existing.selector  # a live link is reused
    again = services.share_links_for_portal(invoices=invoices)
    assert {k: v.selector for k, v in again.items()} == {k: v.selector for k, v in links.items()}


def test_it_shares_idempotently_and_revokes_through_the_api(
    api_client: Any, invoice: Invoice, customer: Customer
) -> None:
    url = f"/api/v1/invoices/{invoice.public_id}/share-link"
    first = api_client.post(url).json()
    second = api_client.post(url).json()
    assert first == second
    assert first["url"].endswith(f"/invoice/{first['token']}")
    assert api_client.get(f"/invoice/{first['token']}").status_code == 200
    assert api_client.delete(url).status_code == 204
    assert api_client.get(f"/invoice/{first['token']}").status_code == 404

    portal = f"/api/v1/customers/{customer.public_id}/portal-link"
    link = api_client.post(portal).json()
    assert api_client.post(portal).json() == link
    assert api_client.get(f"/portal/{link['token']}").status_code == 200
    assert api_client.delete(portal).status_code == 204
    assert api_client.get(f"/portal/{link['token']}").status_code == 404


def test_it_never_opens_a_draft_even_with_a_link_row(
    client: Any, tenant: Company, customer: Customer
) -> None:
    # The service refuses to share drafts; even a link row made behind its back opens nothing.
    draft = factories.make_invoice(tenant, customer, status="draft")
    link = ShareLink.objects.create(
        kind="invoice", company=tenant, customer=customer, invoice=draft, selector=new_selector()
    )
    assert client.get(f"/invoice/{services.share_link_token(link)}").status_code == 404
