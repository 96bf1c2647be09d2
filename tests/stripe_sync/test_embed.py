"""The embed for companies that bill in Stripe: customers identified by their Stripe
customer id (hashed like the other identifiers), the list scoped to one subscription with
data-subscription, and "show all customer invoices" listing one-off invoices too."""

from __future__ import annotations

import io
from typing import Any

import pytest
import stripe
from django.core.management import call_command

from invoices.models import Invoice
from payments.models import StripeConnection
from portal.embed.models import EmbedSettings, IdentifyBy
from stripe_emulator.server import EmulatorServer
from tests.embed.conftest import frame_url, make_embed, signed
from tests.stripe_sync.conftest import control, stripe_invoice


@pytest.fixture
def account(
    connected: StripeConnection, sdk: stripe.StripeClient, emulator: EmulatorServer
) -> dict[str, Any]:
    """Ada, with a subscription (two periods invoiced), a one-off invoice, and a second
    subscription; imported."""
    ada = sdk.v1.customers.create(params={"name": "Ada", "email": "ada@example.com"})
    plans = [
        sdk.v1.prices.create(
            params={
                "currency": "usd",
                "unit_amount": amount,
                "recurring": {"interval": "month"},
                "product_data": {"name": name},
            }
        )
        for name, amount in (("Pro plan", 4_900), ("Storage add-on", 900))
    ]
    pro, storage = (
        sdk.v1.subscriptions.create(
            params={
                "customer": ada.id,
                "items": [{"price": price.id}],
                "collection_method": "send_invoice",
                "days_until_due": 7,
            }
        )
        for price in plans
    )
    control(emulator, f"/subscriptions/{pro.id}/cycle", {})
    one_off = stripe_invoice(sdk, ada.id, [("Onboarding workshop", 1, 50_000)])
    call_command("stripe_sync", "tenant", stdout=io.StringIO())
    return {"customer": ada.id, "pro": pro.id, "storage": storage.id, "one_off": one_off.id}


def _numbers(client: Any, url: str) -> set[str]:
    response = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200, response.content[:500]
    body = response.content.decode()
    return {i.number for i in Invoice.objects.all() if i.public_id in body}


def _number(stripe_id: str) -> str:
    return Invoice.objects.get(stripe_invoice_id=stripe_id).number


def test_the_import_keeps_the_subscription_and_why_stripe_billed(
    account: dict[str, Any],
) -> None:
    pro = Invoice.objects.filter(stripe_subscription_id=account["pro"])
    assert sorted(i.stripe_billing_reason for i in pro) == [
        "subscription_create",
        "subscription_cycle",
    ]
    assert Invoice.objects.get(stripe_invoice_id=account["one_off"]).stripe_subscription_id == ""


def test_customers_are_identified_by_stripe_customer_id_with_a_subscription_scope(
    client: Any, tenant: Any, account: dict[str, Any]
) -> None:
    _embed, secret = make_embed(tenant, identify_by=IdentifyBy.STRIPE_CUSTOMER)
    credentials = signed(secret, account["customer"])
    pro = {i.number for i in Invoice.objects.filter(stripe_subscription_id=account["pro"])}

    everything = _numbers(client, frame_url(tenant, **credentials))
    scoped = _numbers(client, frame_url(tenant, subscription=account["pro"], **credentials))

    assert len(pro) == 2
    assert scoped == pro
    assert everything == {i.number for i in Invoice.objects.all()}
    assert _number(account["one_off"]) in everything


def test_show_all_customer_invoices_lists_one_off_invoices_under_a_subscription_too(
    client: Any, tenant: Any, account: dict[str, Any]
) -> None:
    _embed, secret = make_embed(
        tenant, identify_by=IdentifyBy.STRIPE_CUSTOMER, show_all_customer_invoices=True
    )
    url = frame_url(tenant, subscription=account["pro"], **signed(secret, account["customer"]))
    listed = _numbers(client, url)
    assert _number(account["one_off"]) in listed
    assert listed == {i.number for i in Invoice.objects.all()}


def test_a_stripe_id_hash_opens_nothing_else(
    client: Any, tenant: Any, account: dict[str, Any]
) -> None:
    _embed, secret = make_embed(tenant, identify_by=IdentifyBy.STRIPE_CUSTOMER)
    # The hash of the email does not open the Stripe id, nor the other way round.
    forged = {**signed(secret, "ada@example.com"), "customer": account["customer"]}
    assert client.get(frame_url(tenant, **forged)).status_code == 403
    by_email = client.get(frame_url(tenant, **signed(secret, "ada@example.com")))
    assert by_email.status_code == 403
    bad = client.get(
        frame_url(tenant, subscription="sub_x';--", **signed(secret, account["customer"]))
    )
    assert bad.status_code == 400
    assert 'data-code="invalid_subscription"' in bad.content.decode()


def test_the_status_toggle_keeps_its_old_name(tenant: Any) -> None:
    embed, _secret = make_embed(tenant, show_all_invoices=True)
    stored = EmbedSettings.objects.get(pk=embed.pk)
    assert stored.list_paid_and_void_invoices is True
    assert stored.show_all_invoices is True
    stored.show_all_invoices = False
    assert stored.list_paid_and_void_invoices is False
