"""Payments fixtures: a tenant connected to the local Stripe emulator (``emulator`` from
``tests/stripe_fixtures.py``: reset before each test, our settings pointed at it). Everything
goes through the real stripe SDK over HTTP; nothing of ours is mocked."""

from __future__ import annotations

import re
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest

from invoices.models import Company
from payments import services
from payments.models import StripeConnection
from stripe_emulator.server import EmulatorServer

SECRET_KEY = "sk_test_tenant"
PUBLISHABLE_KEY = "pk_test_tenant"
WEBHOOK_SECRET = "whsec_tenant_secret"


@pytest.fixture
def connected(tenant: Company, emulator: EmulatorServer) -> StripeConnection:
    return services.stripe_connection_save(
        company=tenant,
        secret_key=SECRET_KEY,
        webhook_secret=WEBHOOK_SECRET,
        publishable_key=PUBLISHABLE_KEY,
    )


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def http(
    method: str, url: str, form: dict[str, str] | dict[str, str | list[str]] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """A plain HTTP call that follows no redirect: (status, headers, body). A list in
    ``form`` repeats its field."""
    data = urllib.parse.urlencode(form, doseq=True).encode() if form is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with _OPENER.open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def pay_on_hosted_page(checkout_url: str, card: str = "4242424242424242") -> str:
    """Press "Pay" on the emulator's hosted Checkout page; returns the success URL it sends
    the browser to (or raises if the card was declined)."""
    status, headers, body = http(
        "POST", checkout_url + "/pay", {"email": "ada@example.com", "card_number": card}
    )
    assert status == 303, (status, body[:500])
    return headers["Location"]


def attempt_id_from(url: str) -> str:
    match = re.search(r"attempt=(att_[A-Za-z0-9]+)", url)
    assert match, url
    return match.group(1)


def emulator_events(base_url: str, key: str = SECRET_KEY) -> list[dict[str, Any]]:
    """Every event the emulator raised for the account, oldest first, as Stripe's JSON."""
    import json

    request = urllib.request.Request(
        base_url + "/v1/events?limit=100", headers={"Authorization": f"Bearer {key}"}
    )
    with _OPENER.open(request, timeout=10) as response:
        events: list[dict[str, Any]] = json.loads(response.read())["data"]
    return list(reversed(events))


def signed_post(
    client: Any,
    webhook_key: str,
    event: dict[str, Any],
    *,
    secret: str = WEBHOOK_SECRET,
    timestamp: int | None = None,
) -> Any:
    """Deliver an event to our webhook as Stripe would (signed with ``secret``)."""
    import json
    import time

    from stripe_emulator.webhooks import sign

    payload = json.dumps(event).encode()
    signature = sign(payload, secret, timestamp if timestamp is not None else int(time.time()))
    return client.post(
        f"/webhooks/stripe/{webhook_key}",
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signature,
    )


def confirm_with_test_card(base_url: str, intent_id: str, card: str = "pm_card_visa") -> Any:
    """What Stripe.js does in the browser: confirm the intent with a card."""
    import stripe

    client = stripe.StripeClient(SECRET_KEY, base_addresses={"api": base_url})
    try:
        return client.v1.payment_intents.confirm(intent_id, params={"payment_method": card})
    except stripe.CardError as exc:
        return exc


@pytest.fixture
def deliver(
    client: Any, connected: StripeConnection, django_capture_on_commit_callbacks: Any
) -> Any:
    """Post a signed event to the tenant's webhook and run what it queues on commit (the
    test's own transaction never commits, so on_commit work is run explicitly here)."""

    def _deliver(event: dict[str, Any], **kwargs: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return signed_post(client, connected.webhook_key, event, **kwargs)

    return _deliver
