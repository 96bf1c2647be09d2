"""The embed in a real browser: a plain HTML page on another local port includes the snippet,
the portal (live_server) answers inside the iframe, the host's handleResponse receives the
frame's events, the iframe grows to its content, and a PDF downloads from inside the frame."""

from __future__ import annotations

import http.server
import string
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from invoices.models import Company
from payments.services import stripe_connection_save
from stripe_emulator.server import EmulatorServer
from tests import factories
from tests.embed.conftest import make_embed, signed

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HOST_PAGE = string.Template("""<!doctype html>
<html><head><meta charset="utf-8"><title>Acme account</title></head>
<body>
  <h1>My account</h1>
  <div id="invoice-portal"></div>
  <script>
    window.receivedEvents = [];
    function handleResponse(event) { window.receivedEvents.push(event); }
  </script>
  <script src="$portal/embed.js" async data-debug="1"
          data-company="$company" data-customer="$customer"
          data-hash="$hash" data-expires="$expires"></script>
</body></html>
""")


@pytest.fixture
def host_site() -> Iterator[tuple[str, Callable[[str], None]]]:
    """A tiny http.server on its own port serving one page: (origin, set_page)."""
    page = {"html": ""}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = page["html"].encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def set_page(html: str) -> None:
        page["html"] = html

    yield f"http://127.0.0.1:{server.server_address[1]}", set_page
    server.shutdown()
    server.server_close()


def test_it_embeds_the_portal_on_another_site(
    live_server: Any,
    settings: Any,
    tmp_path: Path,
    page: Any,
    screenshot: Callable[..., Path],
    host_site: tuple[str, Callable[[str], None]],
) -> None:
    settings.PUBLIC_BASE_URL = live_server.url
    settings.MEDIA_ROOT = str(tmp_path / "media")
    host_origin, set_page = host_site
    tenant: Company = factories.make_company(slug="acme", name="Acme Ltd", plan="pro")
    customer = factories.make_customer(tenant, name="Ada", email="ada@example.com")
    invoice = factories.make_invoice(tenant, customer, lines=[("Consulting", "3", 12000, "0")])
    _embed, secret = make_embed(tenant, allowed_origins=[host_origin], handle_response=True)
    params = signed(secret, "ada@example.com", ttl=600)
    set_page(
        HOST_PAGE.substitute(
            portal=live_server.url,
            company=tenant.public_key,
            customer=params["customer"],
            hash=params["hash"],
            expires=params["expires"],
        )
    )
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))

    page.goto(host_origin + "/")
    page.wait_for_function(
        "window.receivedEvents.some(function (e) { return e.type === 'loaded'; })"
    )
    loaded = page.evaluate(
        "window.receivedEvents.filter(function (e) { return e.type === 'loaded'; })[0]"
    )
    assert loaded == {"type": "loaded", "view": "list", "invoices": 1}
    # The iframe was sized to its content by the frame's resize messages.
    page.wait_for_function(
        "document.querySelector('iframe[data-invoice-portal-frame]').style.height !== '480px'"
    )
    frame = page.frame_locator("iframe[data-invoice-portal-frame]")
    assert frame.locator("[data-testid=embed-invoice-list]").inner_text().count(invoice.number) == 1
    screenshot(page, "list")

    with page.expect_download() as download_info:
        frame.locator(f"[data-embed-pdf='{invoice.public_id}']").click()
    download = download_info.value
    assert download.suggested_filename == f"invoice-{invoice.number}.pdf"
    saved = tmp_path / "download.pdf"
    download.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF")
    page.wait_for_function(
        "window.receivedEvents.some(function (e) { return e.type === 'pdf_downloaded'; })"
    )

    # Opening the invoice inside the frame tells the host too.
    frame.locator(f"a[href*='/invoices/{invoice.public_id}?']").click()
    page.wait_for_function(
        "window.receivedEvents.some(function (e) { return e.type === 'invoice_opened'; })"
    )
    assert frame.locator("text=Consulting").count() == 1
    screenshot(page, "invoice")
    # Debug mode logged the steps on both sides.
    assert any(line.startswith("[invoice-portal] mounted") for line in console)
    assert any(line.startswith("[invoice-portal frame]") for line in console)


def test_it_shows_the_developer_error_and_posts_it(
    live_server: Any,
    settings: Any,
    page: Any,
    host_site: tuple[str, Callable[[str], None]],
) -> None:
    settings.PUBLIC_BASE_URL = live_server.url
    host_origin, set_page = host_site
    tenant: Company = factories.make_company(slug="acme", name="Acme Ltd", plan="pro")
    factories.make_customer(tenant, email="ada@example.com")
    make_embed(tenant, allowed_origins=[host_origin], handle_response=True)
    set_page(
        HOST_PAGE.substitute(
            portal=live_server.url,
            company=tenant.public_key,
            customer="ada@example.com",
            hash="0" * 64,
            expires="",
        )
    )
    page.goto(host_origin + "/")
    page.wait_for_function(
        "window.receivedEvents.some(function (e) { return e.type === 'error'; })"
    )
    error = page.evaluate("window.receivedEvents[0]")
    assert error["code"] == "wrong_hash"
    frame = page.frame_locator("iframe[data-invoice-portal-frame]")
    assert "does not match" in frame.locator("[data-testid=embed-denied]").inner_text()


def test_it_tells_the_host_when_a_payment_started_in_a_new_tab_succeeds(
    live_server: Any,
    settings: Any,
    tmp_path: Path,
    page: Any,
    screenshot: Callable[..., Path],
    host_site: tuple[str, Callable[[str], None]],
    emulator: EmulatorServer,
) -> None:
    settings.PUBLIC_BASE_URL = live_server.url
    settings.MEDIA_ROOT = str(tmp_path / "media")
    host_origin, set_page = host_site
    tenant: Company = factories.make_company(slug="acme", name="Acme Ltd", plan="pro")
    stripe_connection_save(company=tenant, secret_key="sk_test_acme", webhook_secret="whsec_x")
    customer = factories.make_customer(tenant, email="ada@example.com")
    invoice = factories.make_invoice(tenant, customer, lines=[("Support", "1", 4200, "0")])
    _embed, secret = make_embed(tenant, allowed_origins=[host_origin], handle_response=True)
    params = signed(secret, "ada@example.com", ttl=600)
    set_page(
        HOST_PAGE.substitute(
            portal=live_server.url,
            company=tenant.public_key,
            customer=params["customer"],
            hash=params["hash"],
            expires=params["expires"],
        )
    )
    page.goto(host_origin + "/")
    frame = page.frame_locator("iframe[data-invoice-portal-frame]")
    frame.locator(f"a[href*='/invoices/{invoice.public_id}?']").click()
    page.wait_for_function(
        "window.receivedEvents.some(function (e) { return e.type === 'invoice_opened'; })"
    )
    # Checkout cannot be framed: Pay opens it in a new tab.
    with page.context.expect_page() as new_tab:
        frame.locator(f"[data-embed-pay='{invoice.public_id}'] button").click()
    checkout = new_tab.value
    checkout.wait_for_url(f"{emulator.base_url}/checkout/**")
    checkout.locator("#pay-button").click()
    checkout.wait_for_url(f"{live_server.url}/invoice/**/pay/success**")
    # The frame polls the invoice and reports the recorded payment to the host page.
    page.wait_for_function(
        "window.receivedEvents.some(function (e) { return e.type === 'payment_succeeded'; })",
        timeout=20_000,
    )
    types = page.evaluate("window.receivedEvents.map(function (e) { return e.type; })")
    assert types.index("payment_started") < types.index("payment_succeeded")
    succeeded = page.evaluate(
        "window.receivedEvents.filter(function (e) { return e.type === 'payment_succeeded'; })[0]"
    )
    assert succeeded == {
        "type": "payment_succeeded",
        "invoice": invoice.public_id,
        "status": "paid",
        "amount_paid": 4200,
    }
    # The frame then shows the invoice as it is now.
    frame.locator("[data-testid=summary-amount-due]").filter(has_text="$0.00").wait_for()
    assert frame.locator("[data-embed-paid]").is_visible()
    assert frame.locator(f"[data-embed-pay='{invoice.public_id}']").count() == 0
    screenshot(page, "paid")


def test_it_tells_the_host_invoices_paid_when_the_list_pays_everything_due(
    live_server: Any,
    settings: Any,
    tmp_path: Path,
    page: Any,
    host_site: tuple[str, Callable[[str], None]],
    emulator: EmulatorServer,
) -> None:
    settings.PUBLIC_BASE_URL = live_server.url
    settings.MEDIA_ROOT = str(tmp_path / "media")
    host_origin, set_page = host_site
    tenant: Company = factories.make_company(slug="acme", name="Acme Ltd", plan="pro")
    stripe_connection_save(company=tenant, secret_key="sk_test_acme", webhook_secret="whsec_x")
    customer = factories.make_customer(tenant, email="ada@example.com")
    older = factories.make_invoice(tenant, customer, lines=[("Support", "1", 4200, "0")])
    newer = factories.make_invoice(
        tenant, customer, lines=[("Hosting", "1", 1800, "0")], due_in_days=60
    )
    _embed, secret = make_embed(tenant, allowed_origins=[host_origin], handle_response=True)
    params = signed(secret, "ada@example.com", ttl=600)
    set_page(
        HOST_PAGE.substitute(
            portal=live_server.url,
            company=tenant.public_key,
            customer=params["customer"],
            hash=params["hash"],
            expires=params["expires"],
        )
    )
    page.goto(host_origin + "/")
    frame = page.frame_locator("iframe[data-invoice-portal-frame]")
    with page.context.expect_page() as new_tab:
        frame.locator("[data-testid=embed-pay-due]").click()
    checkout = new_tab.value
    checkout.wait_for_url(f"{emulator.base_url}/checkout/**")
    checkout.locator("#pay-button").click()
    checkout.wait_for_url(f"{live_server.url}/portal/**/pay/result**")
    page.wait_for_function(
        "window.receivedEvents.some(function (e) { return e.type === 'invoices_paid'; })",
        timeout=20_000,
    )
    paid = page.evaluate(
        "window.receivedEvents.filter(function (e) { return e.type === 'invoices_paid'; })[0]"
    )
    assert paid == {"type": "invoices_paid", "invoices": [older.public_id, newer.public_id]}
