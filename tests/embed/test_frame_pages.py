"""The frame's pages, headers and the loader script."""

from __future__ import annotations

from typing import Any

from django.conf import settings as django_settings

from invoices.models import Company, Customer
from portal.embed import services
from portal.embed.models import EmbedSettings
from tests import factories
from tests.embed.conftest import SHOP, frame_url, make_embed, signed

Embed = tuple[EmbedSettings, str]


def _csp_directive(response: Any, name: str) -> str:
    for directive in response["Content-Security-Policy"].split(";"):
        if directive.strip().startswith(name + " "):
            return directive.strip()
    raise AssertionError(f"no {name} in {response['Content-Security-Policy']}")


def test_it_lets_only_the_allowed_origins_frame_the_portal(
    client: Any, tenant: Company, customer: Customer
) -> None:
    _embed, secret = make_embed(tenant, allowed_origins=[SHOP, "http://localhost:3000"])
    response = client.get(frame_url(tenant, **signed(secret, "ada@example.com")))
    assert response.status_code == 200
    assert _csp_directive(response, "frame-ancestors") == (
        "frame-ancestors https://shop.example.com http://localhost:3000"
    )
    assert "X-Frame-Options" not in response
    # The contract's customer-facing headers still apply.
    assert response["Cache-Control"] == "no-store"
    assert response["Referrer-Policy"] == "no-referrer"


def test_it_lets_the_allowed_origins_frame_the_developer_error_too(
    client: Any, tenant: Company, customer: Customer, embed: Embed
) -> None:
    response = client.get(frame_url(tenant, customer="ada@example.com"))
    assert response.status_code == 403
    assert _csp_directive(response, "frame-ancestors") == "frame-ancestors https://shop.example.com"


def test_it_lets_nobody_frame_without_allowed_origins(
    client: Any, tenant: Company, customer: Customer
) -> None:
    _embed, secret = make_embed(tenant, allowed_origins=[])
    response = client.get(frame_url(tenant, **signed(secret, "ada@example.com")))
    assert _csp_directive(response, "frame-ancestors") == "frame-ancestors 'none'"
    response = client.get("/embed/pub_unknown?customer=x")
    assert _csp_directive(response, "frame-ancestors") == "frame-ancestors 'none'"


def test_it_posts_only_to_an_allowed_origin(
    client: Any, tenant: Company, customer: Customer, embed: Embed
) -> None:
    params = signed(embed[1], "ada@example.com")
    body = client.get(frame_url(tenant, origin=SHOP, **params)).content.decode()
    assert '"parentOrigin": "https://shop.example.com"' in body
    body = client.get(frame_url(tenant, origin="https://evil.example", **params)).content.decode()
    assert '"parentOrigin": ""' in body
    assert "https://evil.example" not in body


def test_it_renders_the_list_in_constant_queries(
    client: Any,
    tenant: Company,
    customer: Customer,
    embed: Embed,
    django_assert_max_num_queries: Any,
) -> None:
    for _ in range(4):
        factories.make_invoice(tenant, customer)
    url = frame_url(tenant, **signed(embed[1], "ada@example.com"))
    # 1 embed settings + company + secret (one join), 2 customer lookup, 3 invoices,
    # 4 Stripe connected? Whatever the number of invoices: a per-row query would add 4.
    with django_assert_max_num_queries(4, info="the embed list must not query per invoice"):
        response = client.get(url)
    assert response.status_code == 200
    assert response.content.decode().count("/pdf?") == 4


def test_it_opens_one_invoice_with_the_shared_document(
    client: Any, tenant: Company, customer: Customer, embed: Embed
) -> None:
    invoice = factories.make_invoice(tenant, customer, lines=[("Consulting", "2", 5000, "0")])
    url = frame_url(tenant, f"/invoices/{invoice.public_id}", **signed(embed[1], "ada@example.com"))
    response = client.get(url)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Consulting" in body
    assert '"type": "invoice_opened"' in body
    # Without a Stripe connection the pay gate is closed: no pay form.
    assert "data-embed-pay" not in body


def test_it_checks_ownership_of_invoices(
    client: Any, tenant: Company, other_tenant: Company, customer: Customer, embed: Embed
) -> None:
    bob = factories.make_customer(tenant, email="bob@example.com")
    bobs = factories.make_invoice(tenant, bob)
    theirs = factories.make_invoice(other_tenant)
    draft = factories.make_invoice(tenant, customer, status="draft")
    params = signed(embed[1], "ada@example.com")
    for invoice in (bobs, theirs, draft):
        for suffix in ("", "/pdf", "/status"):
            url = frame_url(tenant, f"/invoices/{invoice.public_id}{suffix}", **params)
            assert client.get(url).status_code == 404, (invoice, suffix)


def test_it_downloads_the_pdf_as_an_attachment(
    client: Any, tenant: Company, customer: Customer, embed: Embed
) -> None:
    invoice = factories.make_invoice(tenant, customer)
    url = frame_url(
        tenant, f"/invoices/{invoice.public_id}/pdf", **signed(embed[1], "ada@example.com")
    )
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response.content.startswith(b"%PDF")


def test_it_refuses_the_pdf_without_a_valid_hash(
    client: Any, tenant: Company, customer: Customer, embed: Embed
) -> None:
    invoice = factories.make_invoice(tenant, customer)
    url = frame_url(
        tenant, f"/invoices/{invoice.public_id}/pdf", customer="ada@example.com", hash="f" * 64
    )
    response = client.get(url)
    assert response.status_code == 403
    assert b"%PDF" not in response.content


def test_it_reports_payment_status_as_json(
    client: Any, tenant: Company, customer: Customer, embed: Embed
) -> None:
    invoice = factories.make_invoice(tenant, customer, status="paid")
    url = frame_url(
        tenant, f"/invoices/{invoice.public_id}/status", **signed(embed[1], "ada@example.com")
    )
    response = client.get(url)
    assert response.status_code == 200
    assert response.json()["status"] == "paid"
    assert response.json()["invoice"] == invoice.public_id


def test_it_serves_the_loader_with_the_portal_origin(client: Any, db: Any) -> None:
    response = client.get("/embed.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Cache-Control"] == "no-store"
    body = response.content.decode()
    assert f'var PORTAL_ORIGIN = "{django_settings.PUBLIC_BASE_URL}";' in body
    assert "__PORTAL_ORIGIN__" not in body
    # Messages only from our origin, and never posted to "*".
    assert "event.origin !== PORTAL_ORIGIN" in body
    assert 'postMessage(message, "*")' not in body


def test_it_records_an_embedded_open_as_a_portal_view(
    client: Any, tenant: Company, customer: Customer, embed: Embed
) -> None:
    from tracking.models import ViewRecord

    invoice = factories.make_invoice(tenant, customer)
    url = frame_url(tenant, f"/invoices/{invoice.public_id}", **signed(embed[1], "ada@example.com"))
    assert (
        client.get(url, HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0").status_code
        == 200
    )
    record = ViewRecord.objects.get(invoice=invoice)
    assert (record.source, record.counted) == ("portal", True)
    # The frame reloading itself after a payment is not a new opening.
    assert client.get(url + "&paid=1").status_code == 200
    assert ViewRecord.objects.filter(invoice=invoice).count() == 1


def test_it_posts_events_and_logs_only_when_the_company_turns_them_on(
    client: Any, tenant: Company, customer: Customer
) -> None:
    embed, secret = make_embed(tenant)
    url = frame_url(tenant, **signed(secret, "ada@example.com"))
    # frame.js posts events to the host only with handleResponse, and logs only with debug.
    body = client.get(url).content.decode()
    assert '"handleResponse": false' in body
    assert '"debug": false' in body
    assert '"debug": true' in client.get(url + "&debug=1").content.decode()
    embed.handle_response = True
    embed.debug = True
    services.embed_settings_save(settings=embed)
    body = client.get(url).content.decode()
    assert '"handleResponse": true' in body
    assert '"debug": true' in body
