"""Fixtures for the Stripe emulator tests: the shared emulator (``emulator`` from
``tests/stripe_fixtures.py``, reset before each test), driven through the real stripe SDK; a tiny
HTTP receiver collects webhook deliveries."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import stripe

from stripe_emulator.server import EmulatorServer

API_KEY = "sk_test_alpha"
OTHER_KEY = "sk_test_beta"
WEBHOOK_SECRET = "whsec_test_secret"


@pytest.fixture
def base_url(emulator: EmulatorServer) -> str:
    return emulator.base_url


def make_client(base_url: str, key: str = API_KEY) -> stripe.StripeClient:
    # No network retries: a test must see the first answer, not a retried one.
    return stripe.StripeClient(key, base_addresses={"api": base_url}, max_network_retries=0)


@pytest.fixture
def client(base_url: str) -> stripe.StripeClient:
    return make_client(base_url)


@dataclass
class Delivery:
    path: str
    body: bytes
    signature: str


@dataclass
class Receiver:
    """Collects webhook POSTs; ``statuses`` are answered in turn (then 200)."""

    url: str
    deliveries: list[Delivery] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Delivery]:
        with self.changed:
            self.changed.wait_for(lambda: len(self.deliveries) >= count, timeout)
            return list(self.deliveries)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with state.changed:
                status = state.statuses.pop(0) if state.statuses else 200
                if status == 200:
                    state.deliveries.append(
                        Delivery(self.path, body, self.headers.get("Stripe-Signature", ""))
                    )
                state.changed.notify_all()
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/webhooks/stripe/company-a"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def events_of(deliveries: list[Delivery]) -> list[stripe.Event]:
    """Each delivery verified exactly as the app does it, with the SDK's own check."""
    return [stripe.Webhook.construct_event(d.body, d.signature, WEBHOOK_SECRET) for d in deliveries]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_RAW_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def http(
    method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """A plain HTTP call that follows no redirects: (status, headers, body)."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with _RAW_OPENER.open(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def control(base_url: str, method: str, path: str, payload: object = None) -> tuple[int, dict]:
    """Call the emulator's control API (``/_emulator/...``) with a JSON body."""
    body = None if payload is None else json.dumps(payload).encode()
    status, _, answer = http(method, base_url + path, body, {"Content-Type": "application/json"})
    return status, json.loads(answer)


@pytest.fixture
def endpoint(base_url: str, receiver: Receiver) -> dict:
    """A webhook endpoint of API_KEY's account, pointing at the receiver."""
    status, data = control(
        base_url,
        "POST",
        "/_emulator/webhook_endpoints",
        {"api_key": API_KEY, "url": receiver.url, "secret": WEBHOOK_SECRET},
    )
    assert status == 201, data
    return data
