"""The invoice page and the customer portal: what they show, to whom, with which headers."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone

from invoices import services, tokens
from invoices.models import Company, Customer, Invoice
from tests import factories

pytestmark = pytest.mark.django_db

CUSTOMER_HEADERS = {
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex, nofollow",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def _html(response: Any) -> str:
    return response.content.decode()


# The invoice page ------------------------------------------------------------------------


def test_it_shows_the_whole_invoice(client: Any, invoice: Invoice, token: str) -> None:
    response = client.get(f"/invoice/{token}")
    assert response.status_code == 200
    html = _html(response)
    for text in (
        "Tenant Ltd",
        invoice.number,
        "Ada Lovelace",
        "Design work",
        "Hosting",
        "$123.45",  # unit price
        "$46.91",  # tax of the first line: 246.90 * 19 %
        "$293.81",  # first line total
        "$296.90",  # subtotal
        "$343.81",  # total and amount due
        "Thank you for your business.",
        "Download PDF",
        "Powered by",
        f"/invoice/{token}/pdf",
    ):
        assert text in html, text
    assert 'data-testid="amount-due">$343.81<' in html
    assert '<meta name="robots" content="noindex, nofollow">' in html


def test_it_brands_the_page_with_logo_and_colour(
    client: Any, tenant: Company, invoice: Invoice, token: str, settings: Any, tmp_path: Any
) -> None:
    import base64

    from django.core.files.base import ContentFile

    settings.MEDIA_ROOT = str(tmp_path)
    png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    )
    tenant.logo.save("logo.png", ContentFile(png), save=False)
    tenant.brand_color = "#0f766e"
    tenant.save(update_fields=["logo", "brand_color"])
    html = _html(client.get(f"/invoice/{token}"))
    assert "--brand: #0f766e;" in html
    assert 'class="doc-logo" src="data:image/png;base64,' in html
    assert 'alt="Tenant Ltd logo"' in html


def test_it_says_partly_paid_and_overdue_plainly(
    client: Any, tenant: Company, customer: Customer
) -> None:
    overdue = factories.make_invoice(
        tenant, customer, issue_date=timezone.localdate() - dt.timedelta(days=60)
    )
    html = _html(client.get(f"/invoice/{factories.share_token(overdue)}"))
    assert "badge-overdue" in html and "Overdue" in html

    paid = factories.make_invoice(tenant, customer, status="paid")
    html = _html(client.get(f"/invoice/{factories.share_token(paid)}"))
    assert "badge-paid" in html


def test_it_shows_a_void_invoice_as_void_without_pay(
    client: Any, tenant: Company, customer: Customer, stripe_connected: Any
) -> None:
    void = factories.make_invoice(tenant, customer, status="void")
    html = _html(client.get(f"/invoice/{factories.share_token(void)}"))
    assert "badge-void" in html
    assert "voided" in html
    assert "pay-action" not in html


def test_it_offers_pay_only_when_the_gates_pass(
    client: Any, invoice: Invoice, token: str, stripe_connected: Any
) -> None:
    html = _html(client.get(f"/invoice/{token}"))
    assert f'action="/invoice/{token}/pay?lang=en"' in html
    assert 'name="amount" value="343.81"' in html


def test_it_has_no_pay_button_without_stripe(client: Any, token: str) -> None:
    assert "pay-action" not in _html(client.get(f"/invoice/{token}"))


def test_it_uses_a_constant_number_of_queries(
    client: Any,
    tenant: Company,
    customer: Customer,
    stripe_connected: Any,
    django_assert_num_queries: Any,
) -> None:
    small = factories.make_invoice(tenant, customer, lines=1)
    big = factories.make_invoice(tenant, customer, lines=300)
    counts = []
    for invoice in (small, big):
        token = factories.share_token(invoice)
        cache.clear()
        # 1 the invoice with its company and customer (checking the link), read with the Stripe
        # connection, the last payment and the comment thread's version (the page's cache key);
        # 2-4 tracking's view record (savepoint, insert, release); then, rendering the page:
        # 5 the lines (the comments only when the lookup counted some, the customer's
        # authenticator only when the company asks for one, the last payment only once money
        # came in). 300 lines must not add one: the page is opened from every emailed link.
        with django_assert_num_queries(5) as captured:
            response = client.get(f"/invoice/{token}")
        assert response.status_code == 200
        counts.append(len(captured))
        # The page is cached: 1-4 only (the link check and view tracking run on every open).
        with django_assert_num_queries(4):
            assert client.get(f"/invoice/{token}").status_code == 200
    assert counts[0] == counts[1]
    assert _html(response).count('data-label="Quantity"') == 300


def test_it_shows_fresh_data_although_the_document_is_cached(
    client: Any, invoice: Invoice, token: str
) -> None:
    assert "badge-open" in _html(client.get(f"/invoice/{token}"))
    services.invoice_transition(invoice=invoice, to_status="paid")
    html = _html(client.get(f"/invoice/{token}"))
    assert html.count("badge-paid") == 2  # the heading and the document
    assert "badge-open" not in html


# The portal -------------------------------------------------------------------------------


def test_it_totals_everything_outstanding(
    client: Any, tenant: Company, customer: Customer, portal_token: str
) -> None:
    factories.make_invoice(tenant, customer, lines=[("A", "1", 10000, "0")])
    factories.make_invoice(tenant, customer, lines=[("B", "1", 2550, "0")])
    factories.make_invoice(tenant, customer, lines=[("C", "1", 99900, "0")], status="paid")
    html = _html(client.get(f"/portal/{portal_token}"))
    assert 'data-testid="outstanding"><span class="amount">$125.50</span>' in html
    assert "overdue-flag" not in html


def test_it_flags_overdue_invoices(
    client: Any, tenant: Company, customer: Customer, portal_token: str
) -> None:
    factories.make_invoice(
        tenant, customer, issue_date=timezone.localdate() - dt.timedelta(days=90)
    )
    assert 'data-testid="overdue-flag"' in _html(client.get(f"/portal/{portal_token}"))


def test_it_lists_each_invoice_linking_to_its_page(
    client: Any, tenant: Company, customer: Customer, portal_token: str, stripe_connected: Any
) -> None:
    invoice = factories.make_invoice(tenant, customer)
    html = _html(client.get(f"/portal/{portal_token}"))
    token = services.share_link_token(services.share_link_create(invoice=invoice))
    assert f'href="/invoice/{token}?source=portal&amp;lang=en"' in html
    assert f'action="/invoice/{token}/pay?lang=en"' in html
    assert client.get(f"/invoice/{token}?source=portal").status_code == 200


def test_it_paginates_newest_first(
    client: Any, tenant: Company, customer: Customer, portal_token: str
) -> None:
    today = timezone.localdate()
    invoices = [
        factories.make_invoice(tenant, customer, issue_date=today - dt.timedelta(days=i))
        for i in range(27)
    ]
    first = _html(client.get(f"/portal/{portal_token}"))
    second = _html(client.get(f"/portal/{portal_token}?page=2"))
    assert "Page 1 of 2" in first
    assert first.index(invoices[0].number + "<") < first.index(invoices[1].number + "<")
    assert invoices[24].number + "<" in first and invoices[25].number + "<" not in first
    assert invoices[25].number + "<" in second and invoices[26].number + "<" in second
    # Nonsense page numbers show a real page instead of an error: past the end, the last one.
    assert "Page 1 of 2" in _html(client.get(f"/portal/{portal_token}?page=abc"))
    beyond = _html(client.get(f"/portal/{portal_token}?page=999"))
    assert "Page 2 of 2" in beyond
    assert invoices[26].number + "<" in beyond and invoices[24].number + "<" not in beyond


def test_it_gives_a_row_whose_link_expired_a_new_live_link(
    client: Any, tenant: Company, customer: Customer, portal_token: str
) -> None:
    invoice = factories.make_invoice(tenant, customer)
    expired = services.share_link_create(invoice=invoice)
    expired.expires_at = timezone.now() - dt.timedelta(minutes=1)
    expired.save(update_fields=["expires_at"])
    html = _html(client.get(f"/portal/{portal_token}"))
    assert services.share_link_token(expired) not in html
    expired.refresh_from_db()
    assert expired.revoked_at is not None
    live = invoice.share_links.get(revoked_at__isnull=True)
    token = services.share_link_token(live)
    assert f'href="/invoice/{token}?source=portal&amp;lang=en"' in html
    assert client.get(f"/invoice/{token}").status_code == 200


def test_it_shows_the_credit_balance(
    client: Any, tenant: Company, customer: Customer, portal_token: str
) -> None:
    from invoices.models import CreditNote

    CreditNote.objects.create(
        company=tenant,
        customer=customer,
        number="CN-1",
        status="issued",
        currency="usd",
        amount=5000,
        amount_applied=1000,
    )
    html = _html(client.get(f"/portal/{portal_token}"))
    assert 'data-testid="credit"><span class="amount">$40.00</span>' in html


def test_it_uses_a_constant_number_of_portal_queries(
    client: Any, tenant: Company, customer: Customer, django_assert_num_queries: Any
) -> None:
    one = factories.make_customer(tenant)
    factories.make_invoice(tenant, one)
    many = factories.make_customer(tenant)
    template = factories.make_invoice(tenant, many)
    # 499 more invoices as copies of a real one: 500 through the services would take minutes.
    copies = []
    for n in range(499):
        template.pk = None
        template.public_id = f"inv_copy{n}"
        template.sequence = 1000 + n
        template.number = f"COPY-{n}"
        copies.append(
            Invoice(
                **{f.attname: getattr(template, f.attname) for f in Invoice._meta.concrete_fields}
            )
        )
    Invoice.objects.bulk_create(copies)
    counts = []
    for who in (one, many):
        token = factories.portal_token(who)
        client.get(f"/portal/{token}")  # the first visit creates the rows' invoice links
        cache.clear()
        # 1 the customer and company (checking the link), read with whether Stripe is
        # connected, whether the Documents tab shows and the portal's data version (the page's
        # cache key); then, rendering: the account cards and balances: 2 what is owed per
        # invoice with the credit per credit note, 3 the last payment per currency; the list:
        # 4 one page of invoices with their share links and the invoice count. 500 invoices
        # must cost the same: customers with long histories open the portal most.
        with django_assert_num_queries(4) as captured:
            response = client.get(f"/portal/{token}")
        assert response.status_code == 200
        counts.append(len(captured))
        # The page is cached: 1 only (the link check).
        with django_assert_num_queries(1):
            cached = client.get(f"/portal/{token}")
        # Between the nonces of the brand <style> and of the script.
        main = _html(response).split("<main", 1)[1].split("</main>")[0]
        assert _html(cached).split("<main", 1)[1].split("</main>")[0] == main
    assert counts[0] == counts[1]
    assert _html(response).count('data-label="Invoice"') == 25


def test_it_shows_fresh_portal_data_although_the_list_is_cached(
    client: Any, tenant: Company, customer: Customer, portal_token: str
) -> None:
    from invoices.models import CreditNote

    invoice = factories.make_invoice(tenant, customer, lines=[("A", "1", 10000, "0")])
    html = _html(client.get(f"/portal/{portal_token}"))
    assert "$100.00" in html and "badge-open" in html
    services.invoice_transition(invoice=invoice, to_status="paid")
    html = _html(client.get(f"/portal/{portal_token}"))
    assert "badge-paid" in html and "Nothing outstanding" in html
    CreditNote.objects.create(
        company=tenant,
        customer=customer,
        number="CN-9",
        status="issued",
        currency="usd",
        amount=700,
    )
    assert "$7.00" in _html(client.get(f"/portal/{portal_token}"))
    # A revoked row link is replaced, never shown dead.
    old = services.share_link_token(services.share_link_create(invoice=invoice))
    services.share_link_revoke(invoice=invoice)
    html = _html(client.get(f"/portal/{portal_token}"))
    assert old not in html
    new = services.share_link_token(services.share_link_create(invoice=invoice))
    assert f"/invoice/{new}?source=portal" in html


def test_it_works_without_the_cache(
    client: Any, token: str, portal_token: str, settings: Any
) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        }
    }
    # Every cache call fails (as when Redis is down): the pages are served uncached.
    with pytest.raises(Exception, match=r"(?i)connect"):
        cache.get("anything")
    for url in (f"/invoice/{token}", f"/portal/{portal_token}"):
        assert client.get(url).status_code == 200


# Isolation, privacy, not-found ----------------------------------------------------------


def test_it_shows_nothing_of_other_customers_or_companies(
    client: Any, tenant: Company, other_tenant: Company, customer: Customer, portal_token: str
) -> None:
    mine = factories.make_invoice(tenant, customer)
    neighbour = factories.make_customer(tenant, name="Charles Babbage")
    theirs = factories.make_invoice(tenant, neighbour, lines=[("Secret", "1", 777700, "0")])
    stranger = factories.make_customer(other_tenant, name="Grace Hopper")
    factories.make_invoice(other_tenant, stranger, lines=[("Foreign", "1", 424200, "0")])
    html = _html(client.get(f"/portal/{portal_token}"))
    assert mine.number in html
    for leak in ("Charles Babbage", "$7,777.00", "Grace Hopper", "Other Corp", "$4,242.00"):
        assert leak not in html
    assert theirs.number + "<" not in html  # same company, other customer
    # A single-invoice link shows that invoice only.
    html = _html(client.get(f"/invoice/{factories.share_token(mine)}"))
    assert "Charles Babbage" not in html and "Secret" not in html


def test_it_puts_no_internal_ids_in_pages(
    client: Any, invoice: Invoice, token: str, portal_token: str
) -> None:
    for url in (f"/invoice/{token}", f"/portal/{portal_token}"):
        html = _html(client.get(url))
        assert invoice.public_id not in html
        assert invoice.customer.public_id not in html
        assert "/admin/" not in html


def test_it_answers_every_bad_token_with_the_same_page(
    client: Any, tenant: Company, customer: Customer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from invoices.tokens import make_token, new_selector

    revoked_invoice = factories.make_invoice(tenant, customer)
    revoked = factories.share_token(revoked_invoice)
    services.share_link_revoke(invoice=revoked_invoice)
    expiring = factories.make_invoice(tenant, customer)
    soon = timezone.now() + dt.timedelta(minutes=5)
    expired = services.share_link_token(
        services.share_link_create(invoice=expiring, expires_at=soon)
    )
    unknown = make_token(new_selector(), purpose=tokens.SHARE_LINK_PURPOSE)
    malformed = revoked[:-1] + ("A" if revoked[-1] != "A" else "B")
    after = soon + dt.timedelta(seconds=1)
    monkeypatch.setattr(timezone, "now", lambda: after)

    responses = [
        client.get(f"/invoice/{t}") for t in (unknown, malformed, "not-a-token", revoked, expired)
    ]
    responses += [client.get(f"/portal/{t}") for t in (unknown, malformed, revoked)]
    bodies = {r.content for r in responses}
    assert {r.status_code for r in responses} == {404}
    assert len(bodies) == 1
    assert b"Invoice not found" in bodies.pop()
    headers = {tuple(sorted((k, v) for k, v in r.headers.items())) for r in responses}
    assert len(headers) == 1  # not even a header tells the cases apart
    # In the browser's language, the same for every case too.
    german = {
        client.get(f"/invoice/{t}", HTTP_ACCEPT_LANGUAGE="de").content
        for t in (unknown, revoked, expired)
    }
    assert len(german) == 1 and "Rechnung nicht gefunden" in german.pop().decode()


def test_it_answers_mangled_customer_paths_with_the_same_page(client: Any, token: str) -> None:
    reference = client.get("/invoice/nope")
    for path in ("/invoice/", f"/invoice/{token}/extra/parts", "/portal/", "/portal/a/b"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.content == reference.content
        assert response["Cache-Control"] == "no-store"
    # Elsewhere Django's own 404 page stays.
    assert b"Invoice not found" not in client.get("/no-such-page").content


def test_it_sends_the_customer_headers_everywhere(
    client: Any, token: str, portal_token: str
) -> None:
    for url in (
        f"/invoice/{token}",
        f"/invoice/{token}?lang=de",
        f"/portal/{portal_token}",
        f"/portal/{portal_token}?page=2",
        "/invoice/nope",
        "/portal/nope",
    ):
        response = client.get(url)
        for name, value in CUSTOMER_HEADERS.items():
            assert response[name] == value, (url, name)
        csp = response["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp
        assert "'unsafe-inline'" not in csp
        assert "script-src 'self'" in csp


def test_it_sends_the_customer_headers_on_every_app_route(
    client: Any, token: str, portal_token: str
) -> None:
    # Whatever app answers under a customer-facing prefix, and whatever it answers (pages,
    # JSON, 404s, refusals), the middleware adds the contract's headers.
    responses = [
        client.get(f"/invoice/{token}/pdf"),
        client.post(f"/invoice/{token}/pay", {"amount": "1.00"}),
        client.get("/invoice/bogus/pdf"),
        client.get("/preferences/bogus"),
        client.get("/preferences/bogus.json"),
        client.post("/unsubscribe/bogus"),
        client.get("/embed.js"),
        client.get("/embed/pub_bogus"),
    ]
    for response in responses:
        for name, value in CUSTOMER_HEADERS.items():
            assert response[name] == value, (response.request["PATH_INFO"], name)
        assert "Content-Security-Policy" in response
    # The comment thread's JSON, which only the page's script reads, is "no-store" too.
    thread = client.get(f"/invoice/{token}/comments")
    assert thread["Cache-Control"] == "no-store"
    for name, value in CUSTOMER_HEADERS.items():
        if name != "Cache-Control":
            assert thread[name] == value, name


def test_it_gives_scripts_and_styles_the_nonce(client: Any, token: str) -> None:
    response = client.get(f"/invoice/{token}")
    html = _html(response)
    nonce = response["Content-Security-Policy"].split("'nonce-")[1].split("'")[0]
    assert f'<script src="/static/portal/portal.js" nonce="{nonce}"' in html
    assert f'<style nonce="{nonce}">' in html
    assert "<script>" not in html  # nothing inline without a nonce


def test_it_refuses_other_methods(client: Any, token: str, portal_token: str) -> None:
    assert client.post(f"/invoice/{token}").status_code in (403, 405)
    assert client.delete(f"/invoice/{token}").status_code == 405
    assert client.post(f"/portal/{portal_token}").status_code in (403, 405)
    # HEAD (link checkers) is answered like GET, without a body.
    assert client.head(f"/portal/{portal_token}").status_code == 200
    assert client.head(f"/invoice/{token}").status_code == 200
