"""The Stripe.js stand-in, run in headless Chromium from another origin (so CORS is real).

Skipped when no Chromium is available to Playwright."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from .conftest import http

# The merchant's pages, served from another port than the emulator's: another origin (so CORS
# matters), on loopback like the emulator (as under ``make run``: Chrome's local network access
# rules would stop a public page from calling it).
PAGES: dict[str, str] = {}


@pytest.fixture(scope="module")
def merchant() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = PAGES.get(self.path.split("?")[0], "<p>Thanks</p>").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_it_serves_the_script_with_cors(base_url):
    status, headers, body = http("GET", f"{base_url}/v3/stripe.js")

    assert status == 200
    assert headers["Content-Type"].startswith("application/javascript")
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert b"window.Stripe = Stripe" in body


def test_it_answers_cors_preflight(base_url):
    status, headers, _ = http("OPTIONS", f"{base_url}/v1/payment_intents/pi_x/confirm")

    assert status == 204
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert "Idempotency-Key" in headers["Access-Control-Allow-Headers"]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")
    with sync_api.sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(executable_path=executable)
        except Exception as exc:  # no browser installed: nothing to drive
            pytest.skip(f"Chromium is not available: {exc}")
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def page(browser, emulator_server, merchant):
    """One page for the module: each test only types into the field and calls Stripe.js."""
    context = browser.new_context(viewport={"width": 375, "height": 740})
    PAGES["/invoice"] = f"""<!doctype html>
<html><body>
<div id="card-element"></div>
<script src="{emulator_server.base_url}/v3/stripe.js"></script>
<script>
  const stripe = Stripe("pk_test_alpha");
  const elements = stripe.elements();
  const card = elements.create("card");
  card.mount("#card-element");
  window.changes = [];
  card.on("change", (event) => window.changes.push(event.complete));
  window.payCard = (secret) => stripe.confirmCardPayment(secret, {{payment_method: {{card}}}});
  window.payElement = (secret) =>
    stripe.confirmPayment({{elements, clientSecret: secret, redirect: "if_required"}});
</script>
</body></html>"""
    page = context.new_page()
    page.goto(f"{merchant}/invoice")
    yield page
    context.close()


def secret_for(client) -> str:
    intent = client.v1.payment_intents.create(params={"amount": 1250, "currency": "usd"})
    return intent.client_secret


def test_a_good_card_pays(page, client):
    secret = secret_for(client)
    page.fill('[data-testid="card-number"]', "4242 4242 4242 4242")

    result = page.evaluate("(secret) => payCard(secret)", secret)

    assert result["paymentIntent"]["status"] == "succeeded"
    assert page.evaluate("window.changes.at(-1)") is True
    # The card field has no name: it can never be posted to our own server with a form.
    assert page.get_attribute('[data-testid="card-number"]', "name") is None


def test_a_declined_card_resolves_with_an_error(page, client):
    secret = secret_for(client)
    page.fill('[data-testid="card-number"]', "4000000000000002")

    result = page.evaluate("(secret) => payCard(secret)", secret)

    assert result["error"]["code"] == "card_declined"
    assert result["error"]["message"] == "Your card was declined."
    assert result["error"]["payment_intent"]["status"] == "requires_payment_method"


def test_the_payment_element_reports_processing(page, client):
    secret = secret_for(client)
    page.fill('[data-testid="card-number"]', "4000000000000259")

    result = page.evaluate("(secret) => payElement(secret)", secret)

    assert result["paymentIntent"]["status"] == "processing"


def test_an_incomplete_number_never_reaches_the_server(page, client, base_url):
    secret = secret_for(client)
    page.fill('[data-testid="card-number"]', "4242")

    result = page.evaluate("(secret) => payCard(secret)", secret)

    assert result["error"]["code"] == "incomplete_number"
    assert client.v1.payment_intents.list().data[0].status == "requires_payment_method"


def test_the_hosted_checkout_page_pays_in_a_browser(page, client, merchant):
    session = client.v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "line_items": [{"quantity": 1, "amount": 4200, "currency": "eur", "name": "INV-7"}],
            "success_url": f"{merchant}/paid?session={{CHECKOUT_SESSION_ID}}",
            "cancel_url": f"{merchant}/invoice",
        }
    )

    page.goto(session.url)
    assert "42.00 EUR" in page.inner_text("#amount-total")
    page.get_by_role("button", name="Pay").click()
    page.wait_for_url(f"{merchant}/paid?session={session.id}")

    assert client.v1.checkout.sessions.retrieve(session.id).payment_status == "paid"
