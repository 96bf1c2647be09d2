"""A company's look on its customer pages: the custom stylesheet as a file of its own, the
custom script only on its own domain, the CSP per company (trusted sites, script, analytics),
and nothing of it on the not-found page, the admin, the embed or another company's pages."""

from __future__ import annotations

import re
from typing import Any

import pytest

from invoices.models import Company
from portal.site.look import asset_digest
from tests import factories

pytestmark = pytest.mark.django_db

A_HOST = "billing.acme.example"
CSS = "body { background: #fafafa; } .page { border-top: 4px solid #0f766e; }"
JS = "document.documentElement.dataset.acme = 'yes';"
SITES = [
    {"origin": "https://cdn.acme-assets.example", "kinds": ["img", "style", "script"]},
    {"origin": "https://fonts.acme-assets.example", "kinds": ["font"]},
]


@pytest.fixture
def acme() -> Company:
    return factories.make_company(
        slug="acme",
        name="Acme",
        portal_domain=A_HOST,
        portal_custom_css=CSS,
        portal_custom_js=JS,
        portal_csp_trusted_sites=SITES,
        portal_analytics_id="G-ACME12345",
    )


@pytest.fixture
def plain() -> Company:
    return factories.make_company(slug="plain", name="Plain Ltd")


def _csp(response: Any) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    directives: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


def _nonce(response: Any) -> str:
    found = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"])
    assert found is not None
    return found.group(1)


class TestStylesheet:
    def test_it_links_the_custom_css_as_a_file_named_by_its_hash(
        self, client: Any, acme: Company
    ) -> None:
        token = factories.share_token(factories.make_invoice(acme))
        page = client.get(f"/invoice/{token}", HTTP_HOST=A_HOST).content.decode()
        href = f"/portal-assets/{acme.public_key}/{asset_digest(CSS)}.css"
        assert f'<link rel="stylesheet" href="{href}"' in page
        assert "border-top: 4px solid #0f766e" not in page  # never inlined

        css = client.get(href, HTTP_HOST=A_HOST)
        assert css.status_code == 200
        assert css["Content-Type"] == "text/css; charset=utf-8"
        assert css["Cache-Control"] == "public, max-age=31536000, immutable"
        assert css.content.decode() == CSS

    def test_it_applies_on_the_shared_origin_too(self, client: Any, acme: Company) -> None:
        token = factories.share_token(factories.make_invoice(acme))
        page = client.get(f"/invoice/{token}").content.decode()
        assert f"/portal-assets/{acme.public_key}/{asset_digest(CSS)}.css" in page
        href = f"/portal-assets/{acme.public_key}/{asset_digest(CSS)}.css"
        assert client.get(href).status_code == 200

    def test_it_forgets_an_old_hash(self, client: Any, acme: Company) -> None:
        assert (
            client.get(f"/portal-assets/{acme.public_key}/{asset_digest('x')}.css").status_code
            == 404
        )
        assert client.get(f"/portal-assets/pub_nobody/{asset_digest(CSS)}.css").status_code == 404

    def test_it_serves_no_other_companys_stylesheet_on_a_company_domain(
        self, client: Any, acme: Company
    ) -> None:
        other = factories.make_company(portal_custom_css="p { color: red; }")
        href = f"/portal-assets/{other.public_key}/{asset_digest('p { color: red; }')}.css"
        assert client.get(href, HTTP_HOST=A_HOST).status_code == 404
        assert client.get(href).status_code == 200


class TestScript:
    def test_it_runs_the_custom_js_only_on_the_company_domain(
        self, client: Any, acme: Company
    ) -> None:
        token = factories.share_token(factories.make_invoice(acme))
        src = f"/portal-assets/{acme.public_key}/{asset_digest(JS)}.js"

        own = client.get(f"/invoice/{token}", HTTP_HOST=A_HOST)
        assert f'<script src="{src}" nonce="{_nonce(own)}" defer' in own.content.decode()
        assert f"http://{A_HOST}{src}" in _csp(own)["script-src"]
        script = client.get(src, HTTP_HOST=A_HOST)
        assert script.status_code == 200
        assert script["Content-Type"] == "text/javascript; charset=utf-8"
        assert script.content.decode() == JS

        shared = client.get(f"/invoice/{token}")
        assert src not in shared.content.decode()
        assert not any("portal-assets" in source for source in _csp(shared)["script-src"])
        assert client.get(src).status_code == 404  # never served on the shared origin
        assert JS not in shared.content.decode()

    def test_it_never_puts_the_script_in_the_admin_or_the_pdf(
        self, client: Any, acme: Company
    ) -> None:
        owner = factories.make_staff(acme, "owner")
        client.force_login(owner)
        invoice = factories.make_invoice(acme)
        admin_page = client.get(f"/admin/invoices/invoice/{invoice.pk}/change/").content
        assert b"portal-assets" not in admin_page
        token = factories.share_token(invoice)
        pdf = client.get(f"/invoice/{token}/pdf", HTTP_HOST=A_HOST)
        assert pdf.status_code == 200
        assert b"portal-assets" not in pdf.content and JS.encode() not in pdf.content


class TestPolicy:
    def test_it_lists_the_trusted_sites_under_their_kinds(self, client: Any, acme: Company) -> None:
        token = factories.share_token(factories.make_invoice(acme))
        for host in (A_HOST, "testserver"):
            csp = _csp(client.get(f"/invoice/{token}", HTTP_HOST=host))
            assert "https://cdn.acme-assets.example" in csp["img-src"]
            assert "https://cdn.acme-assets.example" in csp["style-src"]
            assert "https://cdn.acme-assets.example" in csp["script-src"]
            assert "https://fonts.acme-assets.example" in csp["font-src"]
            assert "https://fonts.acme-assets.example" not in csp["img-src"]
            assert "https://cdn.acme-assets.example" not in csp["connect-src"]
            assert not any("unsafe" in source for source in csp["script-src"])
            assert not any("unsafe" in source for source in csp["style-src"])
            assert "*" not in csp["script-src"]

    def test_it_lists_them_for_that_company_only(
        self, client: Any, acme: Company, plain: Company
    ) -> None:
        token = factories.share_token(factories.make_invoice(plain))
        response = client.get(f"/invoice/{token}")
        assert response.status_code == 200
        policy = response["Content-Security-Policy"]
        assert "acme-assets" not in policy and "googletagmanager" not in policy
        assert "portal-assets" not in response.content.decode()

    def test_it_keeps_the_not_found_page_plain_on_the_company_domain(
        self, client: Any, acme: Company
    ) -> None:
        response = client.get("/invoice/not-a-token", HTTP_HOST=A_HOST)
        assert response.status_code == 404
        body = response.content.decode()
        assert "portal-assets" not in body and "G-ACME12345" not in body
        assert "acme-assets" not in response["Content-Security-Policy"]
        assert "googletagmanager" not in response["Content-Security-Policy"]
        shared = client.get("/invoice/not-a-token")
        assert shared.content == response.content


class TestAnalytics:
    def test_it_adds_the_ga4_loader_with_the_nonce_and_its_origins(
        self, client: Any, acme: Company
    ) -> None:
        token = factories.share_token(factories.make_invoice(acme))
        response = client.get(f"/invoice/{token}", HTTP_HOST=A_HOST)
        page = response.content.decode()
        nonce = _nonce(response)
        assert (
            f'<script src="https://www.googletagmanager.com/gtag/js?id=G-ACME12345" '
            f'nonce="{nonce}" async' in page
        )
        assert 'data-analytics-id="G-ACME12345"' in page
        csp = _csp(response)
        assert "https://www.googletagmanager.com" in csp["script-src"]
        assert "https://*.google-analytics.com" in csp["connect-src"]

    def test_it_adds_plausible_for_a_site_domain(self, client: Any) -> None:
        company = factories.make_company(portal_analytics_id="billing.example.com")
        token = factories.share_token(factories.make_invoice(company))
        response = client.get(f"/invoice/{token}")
        page = response.content.decode()
        assert 'src="https://plausible.io/js/script.manual.js"' in page
        assert 'data-domain="billing.example.com"' in page
        assert "https://plausible.io" in _csp(response)["script-src"]
        assert "https://plausible.io" in _csp(response)["connect-src"]

    def test_it_adds_no_analytics_to_the_portal_list_of_another_company(
        self, client: Any, acme: Company, plain: Company
    ) -> None:
        customer = factories.make_customer(plain)
        page = client.get(f"/portal/{factories.portal_token(customer)}").content.decode()
        assert "G-ACME12345" not in page and "analytics.js" not in page

    def test_it_adds_analytics_to_the_portal_and_preferences_pages(
        self, client: Any, acme: Company
    ) -> None:
        from preferences.services import email_preference_ensure, email_preference_token

        customer = factories.make_customer(acme)
        portal = client.get(f"/portal/{factories.portal_token(customer)}", HTTP_HOST=A_HOST)
        assert "G-ACME12345" in portal.content.decode()
        token = email_preference_token(
            email_preference_ensure(company_id=acme.pk, email=customer.email)
        )
        preferences = client.get(f"/preferences/{token}", HTTP_HOST=A_HOST)
        assert preferences.status_code == 200
        assert "G-ACME12345" in preferences.content.decode()

    def test_it_adds_none_to_the_admin(self, client: Any, acme: Company) -> None:
        client.force_login(factories.make_staff(acme, "owner"))
        page = client.get(f"/admin/invoices/company/{acme.pk}/change/")
        assert page.status_code == 200
        assert b"googletagmanager" not in page.content
        assert b"googletagmanager" not in page.get("Content-Security-Policy", "").encode()

    def test_it_adds_none_to_the_embed(self, client: Any, acme: Company) -> None:
        from tests.embed.conftest import frame_url, make_embed, signed

        factories.make_invoice(acme, factories.make_customer(acme, email="ada@example.com"))
        _embed, secret = make_embed(acme)
        response = client.get(frame_url(acme, **signed(secret, "ada@example.com")))
        assert response.status_code == 200
        assert b"G-ACME12345" not in response.content
        assert b"portal-assets" not in response.content
        assert "googletagmanager" not in response["Content-Security-Policy"]
