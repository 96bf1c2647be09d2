"""The company's portal settings through ``PATCH /api/v1/company`` and the admin: every value
validated (400 with the field, nothing changed), a domain belongs to one company (409), custom
JavaScript refused without a domain, and only owners change them in the admin."""

from __future__ import annotations

from typing import Any

import pytest

from invoices.models import Company
from tests import factories

pytestmark = pytest.mark.django_db

JSON = "application/json"
PORTAL_FIELDS = (
    "portal_domain",
    "portal_custom_css",
    "portal_custom_js",
    "portal_csp_trusted_sites",
    "portal_analytics_id",
)


def _patch(api_client: Any, body: dict[str, Any]) -> Any:
    return api_client.patch("/api/v1/company", body, content_type=JSON)


class TestApi:
    def test_it_shows_the_portal_settings(self, api_client: Any, tenant: Company) -> None:
        body = api_client.get("/api/v1/company").json()
        for name in PORTAL_FIELDS:
            assert name in body, name
        assert body["portal_domain"] == "" and body["portal_csp_trusted_sites"] == []

    def test_it_changes_every_portal_setting(self, api_client: Any, tenant: Company) -> None:
        response = _patch(
            api_client,
            {
                "portal_domain": "Billing.Tenant.Example.",
                "portal_custom_css": "@import url('https://fonts.tenant-cdn.example/a.css');\n"
                ".page { color: #111; }",
                "portal_custom_js": "console.log('hello');",
                "portal_csp_trusted_sites": [
                    {"origin": "HTTPS://Fonts.Tenant-CDN.example/", "kinds": ["font", "style"]},
                    {"origin": "https://*.images.example", "kinds": ["img"]},
                ],
                "portal_analytics_id": "g-abc123def4",
            },
        )
        assert response.status_code == 200, response.json()
        body = response.json()
        assert body["portal_domain"] == "billing.tenant.example"
        assert body["portal_analytics_id"] == "G-ABC123DEF4"
        assert body["portal_csp_trusted_sites"] == [
            {"origin": "https://fonts.tenant-cdn.example", "kinds": ["style", "font"]},
            {"origin": "https://*.images.example", "kinds": ["img"]},
        ]
        tenant.refresh_from_db()
        assert tenant.portal_domain == "billing.tenant.example"
        assert tenant.portal_custom_js == "console.log('hello');"

    def test_it_refuses_custom_js_without_a_domain(self, api_client: Any, tenant: Company) -> None:
        response = _patch(api_client, {"portal_custom_js": "alert(1)"})
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["field"] == "portal_custom_js"
        assert "own portal domain" in error["message"]
        tenant.refresh_from_db()
        assert tenant.portal_custom_js == ""

    def test_it_refuses_to_remove_the_domain_under_a_script(
        self, api_client: Any, tenant: Company
    ) -> None:
        assert (
            _patch(
                api_client,
                {"portal_domain": "billing.tenant.example", "portal_custom_js": "let a = 1;"},
            ).status_code
            == 200
        )
        response = _patch(api_client, {"portal_domain": ""})
        assert response.status_code == 400
        assert response.json()["error"]["field"] == "portal_custom_js"
        tenant.refresh_from_db()
        assert tenant.portal_domain == "billing.tenant.example"

    def test_it_gives_a_domain_to_one_company_only(
        self, api_client: Any, tenant: Company, other_tenant: Company
    ) -> None:
        other_tenant.portal_domain = "billing.shared.example"
        other_tenant.save()
        response = _patch(api_client, {"portal_domain": "BILLING.shared.example"})
        assert response.status_code == 409
        assert response.json()["error"]["field"] == "portal_domain"
        tenant.refresh_from_db()
        assert tenant.portal_domain == ""

    @pytest.mark.parametrize(
        "domain",
        [
            "192.168.1.10",
            "10.0.0.1",
            "[::1]",
            "localhost",
            "portal.localhost",
            "testserver",
            "127.0.0.1",
            "billing",
            "https://billing.example.com",
            "billing.example.com/path",
            "*.example.com",
            "bad_name.example.com",
            "-bad.example.com",
            "a" * 64 + ".example.com",
            "billing.example.com:8443",
        ],
    )
    def test_it_refuses_a_domain_that_is_not_a_host_name_of_theirs(
        self, api_client: Any, tenant: Company, domain: str
    ) -> None:
        response = _patch(api_client, {"portal_domain": domain})
        assert response.status_code == 400, domain
        assert response.json()["error"]["field"] == "portal_domain"

    def test_it_refuses_our_own_public_host(
        self, api_client: Any, tenant: Company, settings: Any
    ) -> None:
        settings.PUBLIC_BASE_URL = "https://portal.example.net"
        response = _patch(api_client, {"portal_domain": "portal.example.net"})
        assert response.status_code == 400
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, ".ours.example"]
        assert _patch(api_client, {"portal_domain": "x.ours.example"}).status_code == 400

    @pytest.mark.parametrize(
        "css",
        [
            "</style><script>alert(1)</script>",
            "</STYLE>",
            "a { color: red } <!--",
            "a { width: expression(alert(1)) }",
            "a { width: \\65 xpression(alert(1)) }",
            "a { width: expr/**/ession(alert(1)) }",
            "a { background: url(javascript:alert(1)) }",
            "a { background: url('JavaScript:alert(1)') }",
            "a { behavior: url(x.htc) }",
            "a { -moz-binding: url(x.xml#x) }",
            "@import url('https://evil.example/x.css');",
            '@import "https://evil.example/x.css";',
            "@import url(//evil.example/x.css);",
            "@import 'local.css';",
            "@\\69mport url(https://evil.example/x.css);",
            "p{}" * 20_000,
        ],
    )
    def test_it_refuses_unsafe_css(self, api_client: Any, tenant: Company, css: str) -> None:
        response = _patch(api_client, {"portal_custom_css": css})
        assert response.status_code == 400, css
        assert response.json()["error"]["field"] == "portal_custom_css"
        tenant.refresh_from_db()
        assert tenant.portal_custom_css == ""

    def test_it_accepts_an_import_from_a_trusted_style_site(
        self, api_client: Any, tenant: Company
    ) -> None:
        css = "@import url(https://css.cdn.example/theme.css);"
        sites = [{"origin": "https://*.cdn.example", "kinds": ["style"]}]
        assert _patch(api_client, {"portal_custom_css": css}).status_code == 400
        response = _patch(api_client, {"portal_csp_trusted_sites": sites, "portal_custom_css": css})
        assert response.status_code == 200, response.json()
        # Taking the trust away while the stylesheet still imports from there is refused too.
        img_only = [{"origin": "https://*.cdn.example", "kinds": ["img"]}]
        response = _patch(api_client, {"portal_csp_trusted_sites": img_only})
        assert response.status_code == 400
        assert response.json()["error"]["field"] == "portal_custom_css"

    def test_it_refuses_a_script_too_long(self, api_client: Any, tenant: Company) -> None:
        _patch(api_client, {"portal_domain": "billing.tenant.example"})
        response = _patch(api_client, {"portal_custom_js": "x" * 50_001})
        assert response.status_code == 400
        assert response.json()["error"]["field"] == "portal_custom_js"

    @pytest.mark.parametrize(
        "sites",
        [
            [{"origin": "http://cdn.example.com", "kinds": ["img"]}],
            [{"origin": "*", "kinds": ["img"]}],
            [{"origin": "https://*", "kinds": ["script"]}],
            [{"origin": "https:", "kinds": ["script"]}],
            [{"origin": "'unsafe-inline'", "kinds": ["script"]}],
            [{"origin": "https://cdn.example.com 'unsafe-inline'", "kinds": ["script"]}],
            [{"origin": "https://cdn.example.com;script-src *", "kinds": ["script"]}],
            [{"origin": "https://cdn.example.com/lib/", "kinds": ["script"]}],
            [{"origin": "data:", "kinds": ["img"]}],
            [{"origin": "https://10.0.0.1", "kinds": ["img"]}],
            [{"origin": "https://cdn.example.com", "kinds": []}],
            [{"origin": "https://cdn.example.com", "kinds": ["object"]}],
            [{"origin": "https://cdn.example.com", "kinds": ["img"], "extra": 1}],
            [{"origin": "https://cdn.example.com"}],
            [
                {"origin": "https://cdn.example.com", "kinds": ["img"]},
                {"origin": "https://CDN.example.com/", "kinds": ["font"]},
            ],
            [{"origin": f"https://cdn{n}.example.com", "kinds": ["img"]} for n in range(21)],
            "https://cdn.example.com",
        ],
    )
    def test_it_refuses_bad_trusted_sites(
        self, api_client: Any, tenant: Company, sites: Any
    ) -> None:
        response = _patch(api_client, {"portal_csp_trusted_sites": sites})
        assert response.status_code == 400, sites
        assert response.json()["error"]["field"].startswith("portal_csp_trusted_sites")
        tenant.refresh_from_db()
        assert tenant.portal_csp_trusted_sites == []

    @pytest.mark.parametrize(
        "value", ["UA-12345-1", "G-", "G-abc!", "<script>", "plausible", "https://x.example"]
    )
    def test_it_refuses_bad_analytics_ids(
        self, api_client: Any, tenant: Company, value: str
    ) -> None:
        response = _patch(api_client, {"portal_analytics_id": value})
        assert response.status_code == 400, value
        assert response.json()["error"]["field"] == "portal_analytics_id"

    @pytest.mark.parametrize("value", ["G-ABC123DEF4", "billing.example.com", ""])
    def test_it_accepts_good_analytics_ids(
        self, api_client: Any, tenant: Company, value: str
    ) -> None:
        assert _patch(api_client, {"portal_analytics_id": value}).status_code == 200


class TestAdmin:
    def _form(self, company: Company, **changes: Any) -> dict[str, Any]:
        data = {
            "name": company.name,
            "slug": company.slug,
            "brand_color": company.brand_color,
            "default_currency": company.default_currency,
            "language": company.language,
            "time_zone": company.time_zone,
            "plan": company.plan,
            "invoice_prefix": company.invoice_prefix,
            "payment_terms_days": company.payment_terms_days,
            "comment_write_mode": company.comment_write_mode,
            "reminder_days_before_due": company.reminder_days_before_due,
            "reminder_days_after_due": company.reminder_days_after_due,
            "portal_domain": company.portal_domain,
            "portal_custom_css": company.portal_custom_css,
            "portal_custom_js": company.portal_custom_js,
            "portal_csp_trusted_sites": "[]",
            "portal_analytics_id": company.portal_analytics_id,
            "payment_reference_format": company.payment_reference_format,
        }
        data.update(changes)
        return data

    def _url(self, company: Company) -> str:
        return f"/admin/invoices/company/{company.pk}/change/"

    def test_it_lets_an_owner_set_the_portal_settings(
        self, client: Any, tenant: Company, owner: Any
    ) -> None:
        client.force_login(owner)
        page = client.get(self._url(tenant)).content.decode()
        for name in PORTAL_FIELDS:
            assert f'name="{name}"' in page, name
        response = client.post(
            self._url(tenant),
            self._form(
                tenant,
                portal_domain="Billing.Tenant.example",
                portal_custom_js="let a = 1;",
                portal_analytics_id="G-ABC123DEF4",
                portal_csp_trusted_sites='[{"origin": "https://cdn.example.com", "kinds": ["img"]}]',
            ),
        )
        assert response.status_code == 302, response.content.decode()[-3000:]
        tenant.refresh_from_db()
        assert tenant.portal_domain == "billing.tenant.example"
        assert tenant.portal_custom_js == "let a = 1;"
        assert tenant.portal_csp_trusted_sites == [
            {"origin": "https://cdn.example.com", "kinds": ["img"]}
        ]

    def test_it_shows_the_reasons_in_the_form(
        self, client: Any, tenant: Company, other_tenant: Company, owner: Any
    ) -> None:
        other_tenant.portal_domain = "taken.example.com"
        other_tenant.save()
        client.force_login(owner)
        for changes, reason in (
            ({"portal_custom_js": "let a = 1;"}, "own portal domain"),
            ({"portal_domain": "taken.example.com"}, "Another company uses this portal domain"),
            ({"portal_custom_css": "</style>"}, "may not contain"),
            ({"portal_analytics_id": "UA-1-1"}, "Google Analytics 4"),
        ):
            response = client.post(self._url(tenant), self._form(tenant, **changes))
            assert response.status_code == 200, changes
            assert reason in response.content.decode(), changes
        tenant.refresh_from_db()
        assert (tenant.portal_domain, tenant.portal_custom_js) == ("", "")

    def test_it_lets_a_manager_only_read_them(
        self, client: Any, tenant: Company, staff: Any
    ) -> None:
        client.force_login(staff)
        response = client.post(
            self._url(tenant), self._form(tenant, portal_domain="billing.tenant.example")
        )
        assert response.status_code == 403
        tenant.refresh_from_db()
        assert tenant.portal_domain == ""

    def test_it_refuses_an_outsider(self, client: Any, tenant: Company, outsider: Any) -> None:
        client.force_login(outsider)
        assert client.get(self._url(tenant)).status_code == 404
        factories.make_company()  # nothing else to see
