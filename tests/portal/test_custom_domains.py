"""A company's own portal domain: host routing, isolation between two companies' domains, the
400 for a stranger host, links on the custom origin, and the certificate check Caddy asks."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import resolve

from invoices import services
from invoices.models import Company
from tests import factories

pytestmark = pytest.mark.django_db

A_HOST = "billing.acme.example"
B_HOST = "pay.globex.example"


@pytest.fixture
def acme() -> Company:
    return factories.make_company(slug="acme", name="Acme", portal_domain=A_HOST)


@pytest.fixture
def globex() -> Company:
    return factories.make_company(slug="globex", name="Globex", portal_domain=B_HOST)


def _get(client: Any, path: str, host: str, **extra: Any) -> Any:
    return client.get(path, HTTP_HOST=host, **extra)


class TestHosts:
    def test_it_answers_400_for_a_host_that_is_neither_ours_nor_a_companys(
        self, client: Any, acme: Company
    ) -> None:
        token = factories.share_token(factories.make_invoice(acme))
        assert _get(client, f"/invoice/{token}", "stranger.example").status_code == 400
        assert _get(client, "/", "evil.example").status_code == 400
        assert _get(client, "/healthz", "acme.example").status_code == 400  # a near miss

    def test_it_serves_our_own_hosts_as_before(self, client: Any, acme: Company) -> None:
        token = factories.share_token(factories.make_invoice(acme))
        assert _get(client, f"/invoice/{token}", "testserver").status_code == 200
        assert _get(client, f"/invoice/{token}", "127.0.0.1").status_code == 200

    def test_it_serves_a_company_domain_with_a_port_and_in_any_case(
        self, client: Any, acme: Company
    ) -> None:
        token = factories.share_token(factories.make_invoice(acme))
        assert _get(client, f"/invoice/{token}", f"{A_HOST}:8443").status_code == 200
        assert _get(client, f"/invoice/{token}", A_HOST.upper()).status_code == 200

    def test_it_knows_a_new_domain_at_once_and_forgets_a_removed_one(
        self, client: Any, acme: Company
    ) -> None:
        assert _get(client, "/healthz", A_HOST).status_code == 200  # the map is now cached
        services.company_update(company=acme, changes={"portal_domain": "portal.acme.example"})
        assert _get(client, "/healthz", "portal.acme.example").status_code == 200
        assert _get(client, "/healthz", A_HOST).status_code == 400

    def test_it_finds_a_domain_given_without_a_save(self, client: Any, acme: Company) -> None:
        assert _get(client, "/healthz", "late.acme.example").status_code == 400  # map cached
        Company.objects.filter(pk=acme.pk).update(portal_domain="late.acme.example")
        assert _get(client, "/healthz", "late.acme.example").status_code == 200

    def test_it_costs_no_query_to_route_a_company_domain(
        self, client: Any, acme: Company, django_assert_num_queries: Any
    ) -> None:
        _get(client, "/healthz", A_HOST)  # builds the cached domain map
        # /healthz asks the database "SELECT 1": the one query; the host costs none.
        with django_assert_num_queries(1):
            assert _get(client, "/healthz", A_HOST).status_code == 200


class TestIsolation:
    def test_it_serves_a_companys_own_tokens_on_its_domain(
        self, client: Any, acme: Company
    ) -> None:
        invoice = factories.make_invoice(acme)
        response = _get(client, f"/invoice/{factories.share_token(invoice)}", A_HOST)
        assert response.status_code == 200
        assert invoice.number in response.content.decode()
        portal = _get(client, f"/portal/{factories.portal_token(invoice.customer)}", A_HOST)
        assert portal.status_code == 200

    def test_it_answers_another_companys_token_with_the_one_not_found_page(
        self, client: Any, acme: Company, globex: Company
    ) -> None:
        theirs = factories.make_invoice(globex)
        forged = _get(client, "/invoice/not-a-token", A_HOST)
        for path in (
            f"/invoice/{factories.share_token(theirs)}",
            f"/portal/{factories.portal_token(theirs.customer)}",
            f"/portal/{factories.portal_token(theirs.customer)}/statement",
            f"/portal/{factories.portal_token(theirs.customer)}/invoices",
            f"/invoice/{factories.share_token(theirs)}/pdf",
        ):
            response = _get(client, path, A_HOST)
            assert response.status_code == 404, path
            assert response.content == forged.content, path
        # On its own domain and on the shared origin the same token works.
        token = factories.share_token(theirs)
        assert _get(client, f"/invoice/{token}", B_HOST).status_code == 200
        assert _get(client, f"/invoice/{token}", "testserver").status_code == 200

    def test_it_refuses_another_companys_preferences_token(
        self, client: Any, acme: Company, globex: Company
    ) -> None:
        from preferences.services import email_preference_ensure, email_preference_token

        token = email_preference_token(
            email_preference_ensure(company_id=globex.pk, email="ada@example.com")
        )
        assert _get(client, f"/preferences/{token}", A_HOST).status_code == 404
        assert _get(client, f"/preferences/{token}", B_HOST).status_code == 200

    def test_it_keeps_staff_and_developer_surfaces_off_company_domains(
        self, client: Any, acme: Company
    ) -> None:
        for path in ("/admin/", "/admin/login/", "/api/v1/company", "/api/v1/docs", "/tls/ask"):
            response = _get(client, path, A_HOST)
            assert response.status_code == 404, path
            assert response["Cache-Control"] == "no-store"
        assert _get(client, "/admin/login/", "testserver").status_code == 200

    def test_it_answers_another_companys_entry_with_not_found(
        self, client: Any, acme: Company, globex: Company
    ) -> None:
        assert _get(client, "/c/globex/", A_HOST).status_code == 404
        assert _get(client, "/c/globex/sign-in", A_HOST).status_code == 404


class TestEntry:
    @pytest.mark.urls("tests.portal.entry_urls")
    def test_it_dispatches_the_root_to_the_entry_route(self, client: Any, acme: Company) -> None:
        response = _get(client, "/", A_HOST)
        assert response.status_code == 200
        assert response.content == b"entry of acme"
        assert response["Cache-Control"] == "no-store"

    def test_it_serves_the_companys_portal_entry_at_the_root(
        self, client: Any, acme: Company
    ) -> None:
        """The real entry (``/c/<slug>/``, the sign-in pages) at the company domain's root."""
        match = resolve("/c/acme/")
        direct = _get(client, "/c/acme/", A_HOST)
        root = _get(client, "/", A_HOST)
        assert root.status_code == direct.status_code
        assert root.status_code in (200, 302)
        if root.status_code == 200:
            assert "Acme" in root.content.decode()
        assert match.func is not None
        assert root["Cache-Control"] == "no-store"

    def test_it_keeps_the_landing_page_on_the_shared_origin(
        self, client: Any, acme: Company
    ) -> None:
        response = _get(client, "/", "testserver")
        assert response.status_code == 200
        assert "Acme" not in response.content.decode()


class TestLinks:
    def test_it_makes_share_and_portal_links_on_the_company_origin(
        self, acme: Company, settings: Any
    ) -> None:
        invoice = factories.make_invoice(acme)
        link = services.share_link_url(services.share_link_create(invoice=invoice))
        assert link.startswith(f"https://{A_HOST}/invoice/")
        portal = services.share_link_url(services.portal_link_create(customer=invoice.customer))
        assert portal.startswith(f"https://{A_HOST}/portal/")

    def test_it_keeps_the_shared_origin_for_a_company_without_a_domain(
        self, tenant: Company, settings: Any
    ) -> None:
        invoice = factories.make_invoice(tenant)
        link = services.share_link_url(services.share_link_create(invoice=invoice))
        assert link.startswith(f"{settings.PUBLIC_BASE_URL}/invoice/")

    def test_it_gives_api_links_on_the_company_origin(self, client: Any, acme: Company) -> None:
        key = services.api_key_create(company=acme)[1]
        invoice = factories.make_invoice(acme)
        response = client.post(
            f"/api/v1/invoices/{invoice.public_id}/share-link",
            HTTP_AUTHORIZATION=f"Bearer {key}",
        )
        assert response.status_code in (200, 201)
        url = response.json()["url"]
        assert url.startswith(f"https://{A_HOST}/invoice/")
        # The link opens there (the test client speaks plain HTTP to the same app).
        path = url.removeprefix(f"https://{A_HOST}")
        assert _get(client, path, A_HOST).status_code == 200


class TestCertificateCheck:
    def test_it_answers_200_only_for_a_registered_domain(self, client: Any, acme: Company) -> None:
        assert client.get(f"/tls/ask?domain={A_HOST}").status_code == 200
        assert client.get(f"/tls/ask?domain={A_HOST.upper()}.").status_code == 200
        assert client.get("/tls/ask?domain=stranger.example").status_code == 404
        assert client.get("/tls/ask?domain=").status_code == 404
        assert client.get("/tls/ask").status_code == 404
