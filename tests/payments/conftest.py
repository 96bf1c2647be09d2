"""Payments fixtures: the local Stripe emulator in a thread (one per module, reset before each
test), our settings pointed at it, and a tenant connected to it. Everything goes through the
real stripe SDK over HTTP; nothing of ours is mocked."""

from __future__ import annotations

import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from invoices.models import Company
from payments import services
from payments.emulator.server import EmulatorServer, start_in_thread
from payments.models import StripeConnection

SECRET_KEY = "sk_test_tenant"
PUBLISHABLE_KEY = "pk_test_tenant"
WEBHOOK_SECRET = "whsec_tenant_secret"


@pytest.fixture(scope="module")
def _emulator_server() -> Iterator[EmulatorServer]:
    server, _ = start_in_thread()
    yield server
    server.shutdown()


@pytest.fixture
def emulator(_emulator_server: EmulatorServer, settings: Any) -> EmulatorServer:
    _emulator_server.reset()
    _emulator_server.emulator.settings["processing_delay_ms"] = None
    settings.STRIPE_API_BASE = _emulator_server.base_url
    return _emulator_server


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
    method: str, url: str, form: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """A plain HTTP call that follows no redirect: (status, headers, body)."""
    data = urllib.parse.urlencode(form).encode() if form is not None else None
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
