"""Admin share-link buttons: managers generate, copy and revoke; viewers and outsiders cannot."""

from __future__ import annotations

from typing import Any

import pytest

from invoices import selectors, services
from invoices.models import Customer, Invoice

pytestmark = pytest.mark.django_db


def _invoice_url(invoice: Invoice, action: str = "") -> str:
    base = f"/admin/invoices/invoice/{invoice.pk}/"
    return base + (f"share-link/{action}/" if action else "change/")


def _customer_url(customer: Customer, action: str = "") -> str:
    base = f"/admin/invoices/customer/{customer.pk}/"
    return base + (f"portal-link/{action}/" if action else "change/")


def test_it_generates_the_same_link_twice_and_shows_it(
    client: Any, staff: Any, invoice: Invoice
) -> None:
    client.force_login(staff)
    response = client.post(_invoice_url(invoice, "create"), follow=True)
    link = selectors.live_share_link(invoice=invoice)
    assert link is not None
    url = services.share_link_url(link)
    assert url in response.content.decode()  # in the message and the copy box
    client.post(_invoice_url(invoice, "create"))
    assert selectors.live_share_link(invoice=invoice) == link
    page = client.get(_invoice_url(invoice)).content.decode()
    assert f'data-copy-url="{url}"' in page
    assert "share-link/revoke/" in page


def test_it_revokes_so_the_old_url_answers_404(client: Any, staff: Any, invoice: Invoice) -> None:
    token = services.share_link_token(services.share_link_create(invoice=invoice))
    client.force_login(staff)
    client.post(_invoice_url(invoice, "revoke"))
    client.logout()
    assert client.get(f"/invoice/{token}").status_code == 404


def test_it_sets_an_optional_expiry(client: Any, staff: Any, invoice: Invoice) -> None:
    client.force_login(staff)
    client.post(_invoice_url(invoice, "create"), {"link_expires_on": "2999-01-31"})
    link = selectors.live_share_link(invoice=invoice)
    assert link is not None and link.expires_at is not None
    assert link.expires_at.date().isoformat() == "2999-01-31"


@pytest.mark.parametrize("kind", ["invoice", "customer"])
def test_it_refuses_a_past_expiry_and_says_why(
    client: Any, staff: Any, invoice: Invoice, kind: str
) -> None:
    client.force_login(staff)
    url = (
        _invoice_url(invoice, "create")
        if kind == "invoice"
        else _customer_url(invoice.customer, "create")
    )
    response = client.post(url, {"link_expires_on": "2001-01-31"}, follow=True)
    assert "The link&#x27;s expiry must be in the future." in response.content.decode()
    assert selectors.live_share_link(invoice=invoice) is None
    assert selectors.live_portal_link(customer=invoice.customer) is None


def test_it_manages_portal_links(client: Any, staff: Any, customer: Customer) -> None:
    client.force_login(staff)
    client.post(_customer_url(customer, "create"))
    link = selectors.live_portal_link(customer=customer)
    assert link is not None
    token = services.share_link_token(link)
    assert services.share_link_url(link) in client.get(_customer_url(customer)).content.decode()
    client.post(_customer_url(customer, "revoke"))
    assert selectors.live_portal_link(customer=customer) is None
    client.logout()
    assert client.get(f"/portal/{token}").status_code == 404


def test_it_hides_buttons_and_url_from_viewers(
    client: Any, viewer: Any, invoice: Invoice, customer: Customer
) -> None:
    link = services.share_link_create(invoice=invoice)
    client.force_login(viewer)
    page = client.get(_invoice_url(invoice)).content.decode()
    assert "A link is live." in page
    assert services.share_link_url(link) not in page
    assert client.post(_invoice_url(invoice, "revoke")).status_code == 403
    assert client.post(_customer_url(customer, "create")).status_code == 403
    assert selectors.live_share_link(invoice=invoice) == link
    assert selectors.live_portal_link(customer=customer) is None


def test_it_checks_ownership(
    client: Any, outsider: Any, invoice: Invoice, customer: Customer
) -> None:
    client.force_login(outsider)
    assert client.post(_invoice_url(invoice, "create")).status_code == 404
    assert client.post(_customer_url(customer, "create")).status_code == 404
    assert selectors.live_share_link(invoice=invoice) is None
    assert selectors.live_portal_link(customer=customer) is None


def test_it_only_accepts_post(client: Any, staff: Any, invoice: Invoice) -> None:
    client.force_login(staff)
    assert client.get(_invoice_url(invoice, "create")).status_code == 405
    assert selectors.live_share_link(invoice=invoice) is None


def test_it_refuses_to_share_a_draft(
    client: Any, staff: Any, tenant: Any, customer: Customer
) -> None:
    from tests import factories

    draft = factories.make_invoice(tenant, customer, status="draft")
    client.force_login(staff)
    page = client.get(_invoice_url(draft)).content.decode()
    assert "Finalize the invoice to share it." in page
    response = client.post(_invoice_url(draft, "create"), follow=True)
    assert "cannot be shared" in response.content.decode()
    assert selectors.live_share_link(invoice=draft) is None
