"""Stripe sync fixtures: a tenant connected to the local Stripe emulator, the real stripe SDK
pointed at it (to create customers and invoices as a company billing in Stripe would), and
the emulator's bulk creation for accounts with hundreds of invoices."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
import stripe

from invoices.models import Company
from payments import services
from payments.models import StripeConnection
from payments.stripe_client import API_VERSION
from stripe_emulator.server import EmulatorServer

SECRET_KEY = "sk_test_billing"
WEBHOOK_SECRET = "whsec_billing_secret"


@pytest.fixture
def connected(tenant: Company, emulator: EmulatorServer) -> StripeConnection:
    return services.stripe_connection_save(
        company=tenant,
        secret_key=SECRET_KEY,
        webhook_secret=WEBHOOK_SECRET,
        publishable_key="pk_test_billing",
    )


@pytest.fixture
def sdk(emulator: EmulatorServer) -> stripe.StripeClient:
    """The company's own Stripe integration (or the Dashboard): the real SDK."""
    return stripe.StripeClient(
        SECRET_KEY, stripe_version=API_VERSION, base_addresses={"api": emulator.base_url}
    )


def control(emulator: EmulatorServer, path: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        emulator.base_url + "/_emulator" + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def seed_invoices(emulator: EmulatorServer, specs: list[dict[str, Any]]) -> list[str]:
    """Many invoices in one request (the emulator's bulk creation)."""
    ids: list[str] = control(
        emulator, "/billing/invoices", {"api_key": SECRET_KEY, "invoices": specs}
    )["data"]
    return ids


def stripe_invoice(
    sdk: stripe.StripeClient,
    customer_id: str,
    lines: list[tuple[str, int, int]],
    *,
    currency: str = "usd",
    finalize: bool = True,
) -> Any:
    """An invoice made the way an integration makes one: items on a draft, then finalized."""
    invoice = sdk.v1.invoices.create(
        params={
            "customer": customer_id,
            "collection_method": "send_invoice",
            "days_until_due": 14,
            "currency": currency,
        }
    )
    for description, quantity, unit in lines:
        sdk.v1.invoice_items.create(
            params={
                "customer": customer_id,
                "invoice": invoice.id,
                "currency": currency,
                "description": description,
                "quantity": quantity,
                "unit_amount_decimal": str(unit),
            }
        )
    if finalize:
        invoice = sdk.v1.invoices.finalize_invoice(invoice.id)
    return invoice


def stripe_events(emulator: EmulatorServer, types: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The events the account raised, oldest first, as Stripe's JSON (optionally of some
    types only)."""
    request = urllib.request.Request(
        emulator.base_url + "/v1/events?limit=100",
        headers={"Authorization": f"Bearer {SECRET_KEY}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        events: list[dict[str, Any]] = json.loads(response.read())["data"]
    events.reverse()
    return [event for event in events if not types or event["type"] in types]


@pytest.fixture
def deliver(
    client: Any, connected: StripeConnection, django_capture_on_commit_callbacks: Any
) -> Any:
    """Post a signed event to the company's webhook endpoint, as Stripe delivers it, and run
    the processing it queues on commit (the test's transaction never commits)."""
    from tests.payments.conftest import signed_post

    def _deliver(event: dict[str, Any]) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            response = signed_post(client, connected.webhook_key, event, secret=WEBHOOK_SECRET)
        assert response.status_code == 200, response.content
        return response

    return _deliver
