"""Paying from the frame: the pay gate decides, Checkout opens in a new tab, Checkout returns to
the invoice's own page (which records the payment), and the frame's status poll sees it.
Against the local Stripe emulator over HTTP, like the payments tests."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from invoices.models import Company, Customer
from payments.models import StripeConnection
from portal.embed.models import EmbedSettings
from tests import factories
from tests.embed.conftest import frame_url, signed
from tests.payments.conftest import (  # noqa: F401 (fixtures)
    connected,
    pay_on_hosted_page,
)

Embed = tuple[EmbedSettings, str]


def test_it_pays_in_a_new_tab_and_reports_the_payment(
    client: Any,
    tenant: Company,
    customer: Customer,
    embed: Embed,
    connected: StripeConnection,  # noqa: F811
) -> None:
    invoice = factories.make_invoice(tenant, customer, lines=[("Support", "1", 2500, "0")])
    params = signed(embed[1], "ada@example.com")
    page = client.get(frame_url(tenant, f"/invoices/{invoice.public_id}", **params))
    body = page.content.decode()
    assert f'data-embed-pay="{invoice.public_id}"' in body
    assert 'target="_blank"' in body

    response = client.post(
        frame_url(tenant, f"/invoices/{invoice.public_id}/pay", **params), {"amount": "25.00"}
    )
    assert response.status_code == 303
    success_url = pay_on_hosted_page(response["Location"])
    parts = urlsplit(success_url)
    # Back on the invoice's own page, which reconciles with Stripe and records the payment.
    assert parts.path.startswith("/invoice/")
    client.get(f"{parts.path}?{parts.query}")

    status = client.get(frame_url(tenant, f"/invoices/{invoice.public_id}/status", **params))
    assert status.json()["status"] == "paid"
    assert status.json()["amount_paid"] == 2500


def test_it_refuses_to_pay_without_a_valid_hash(
    client: Any,
    tenant: Company,
    customer: Customer,
    embed: Embed,
    connected: StripeConnection,  # noqa: F811
) -> None:
    invoice = factories.make_invoice(tenant, customer)
    url = frame_url(
        tenant, f"/invoices/{invoice.public_id}/pay", customer="ada@example.com", hash="a" * 64
    )
    response = client.post(url, {"amount": "10.00"})
    assert response.status_code == 403


def test_it_refuses_an_amount_the_rules_refuse(
    client: Any,
    tenant: Company,
    customer: Customer,
    embed: Embed,
    connected: StripeConnection,  # noqa: F811
) -> None:
    invoice = factories.make_invoice(tenant, customer)
    params = signed(embed[1], "ada@example.com")
    response = client.post(
        frame_url(tenant, f"/invoices/{invoice.public_id}/pay", **params), {"amount": "999.00"}
    )
    assert response.status_code == 400
    assert 'data-code="payment_refused"' in response.content.decode()


def test_it_offers_a_partial_amount_when_the_invoice_allows_it(
    client: Any,
    tenant: Company,
    customer: Customer,
    embed: Embed,
    connected: StripeConnection,  # noqa: F811
) -> None:
    invoice = factories.make_invoice(
        tenant, customer, lines=[("Support", "1", 10000, "0")], allow_partial_payments=True
    )
    params = signed(embed[1], "ada@example.com")
    body = client.get(frame_url(tenant, f"/invoices/{invoice.public_id}", **params)).content
    assert b'data-testid="embed-pay-amount"' in body
    response = client.post(
        frame_url(tenant, f"/invoices/{invoice.public_id}/pay", **params), {"amount": "40.00"}
    )
    assert response.status_code == 303
    success_url = pay_on_hosted_page(response["Location"])
    parts = urlsplit(success_url)
    client.get(f"{parts.path}?{parts.query}")
    status = client.get(frame_url(tenant, f"/invoices/{invoice.public_id}/status", **params))
    assert (status.json()["status"], status.json()["amount_paid"]) == ("open", 4000)


def test_the_list_pays_everything_due_in_one_checkout_and_reports_invoices_paid(
    client: Any,
    tenant: Company,
    customer: Customer,
    embed: Embed,
    connected: StripeConnection,  # noqa: F811
) -> None:
    older = factories.make_invoice(tenant, customer, lines=[("Support", "1", 2500, "0")])
    newer = factories.make_invoice(
        tenant, customer, lines=[("Hosting", "1", 4000, "0")], due_in_days=60
    )
    params = signed(embed[1], "ada@example.com")
    body = client.get(frame_url(tenant, "", **params)).content.decode()
    assert 'data-testid="embed-pay-due"' in body and "data-embed-pay-invoices" in body
    form = body.split("data-embed-pay-invoices", 1)[1]
    assert form.index(f'value="{older.public_id}"') < form.index(f'value="{newer.public_id}"')
    assert '"statusBase"' in body  # the frame polls the invoices, then invoices_paid

    response = client.post(
        frame_url(tenant, "/pay", **params), {"invoice": [older.public_id, newer.public_id]}
    )
    assert response.status_code == 303
    success = urlsplit(pay_on_hosted_page(response["Location"]))
    # Back on the customer's portal result page, which applies the payment.
    assert success.path.startswith("/portal/") and success.path.endswith("/pay/result")
    client.get(f"{success.path}?{success.query}")
    for invoice in (older, newer):
        status = client.get(frame_url(tenant, f"/invoices/{invoice.public_id}/status", **params))
        assert status.json()["status"] == "paid"


def test_the_list_pay_refuses_another_customers_invoice(
    client: Any,
    tenant: Company,
    customer: Customer,
    embed: Embed,
    connected: StripeConnection,  # noqa: F811
) -> None:
    theirs = factories.make_invoice(tenant, lines=[("Support", "1", 2500, "0")])
    params = signed(embed[1], "ada@example.com")
    response = client.post(frame_url(tenant, "/pay", **params), {"invoice": [theirs.public_id]})
    assert response.status_code == 400
    assert "cannot be paid here" in response.content.decode()
