"""Language: ?lang= overrides, then Accept-Language, then the customer's, then the company's;
money and dates follow the language (Babel)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import RequestFactory

from core.i18n import negotiate_language
from invoices.models import Company, Customer
from invoices.selectors import customer_languages
from portal.templatetags.portal_format import money
from tests import factories

pytestmark = pytest.mark.django_db


def _negotiate(
    customer: Customer, company: Company, query: str = "", accept: str | None = None
) -> str:
    headers = {"HTTP_ACCEPT_LANGUAGE": accept} if accept is not None else {}
    request = RequestFactory().get(f"/invoice/x{query}", **headers)
    return negotiate_language(request, preferred=customer_languages(customer, company))


def test_it_negotiates_in_the_documented_order(tenant: Company, customer: Customer) -> None:
    tenant.language = "es"
    customer.preferred_language = "fr"
    assert _negotiate(customer, tenant, "?lang=de", "fr-FR,fr;q=0.9") == "de"
    assert _negotiate(customer, tenant, "", "de-CH,de;q=0.9,en;q=0.5") == "de"
    assert _negotiate(customer, tenant, "", "") == "fr"
    customer.preferred_language = ""
    assert _negotiate(customer, tenant, "", "") == "es"
    tenant.language = "en"
    assert _negotiate(customer, tenant, "", "") == "en"


def test_it_skips_languages_we_do_not_ship(tenant: Company, customer: Customer) -> None:
    customer.preferred_language = "de"
    assert _negotiate(customer, tenant, "?lang=xx", "ja,zh;q=0.9,*;q=0.1") == "de"
    assert _negotiate(customer, tenant, "", "ja, fr;q=0.2") == "fr"
    assert _negotiate(customer, tenant, "", "fr;q=0, es;q=0.5") == "es"


def test_it_renders_the_page_in_german(client: Any, tenant: Company) -> None:
    customer = factories.make_customer(tenant, preferred_language="de")
    invoice = factories.make_invoice(
        tenant, customer, currency="eur", lines=[("Beratung", "1", 123450, "0")]
    )
    response = client.get(f"/invoice/{factories.share_token(invoice)}", HTTP_ACCEPT_LANGUAGE="")
    html = response.content.decode()
    assert response["Content-Language"] == "de"
    assert '<html lang="de">' in html
    assert "1.234,50\xa0€" in html
    assert "Rechnung" in html  # translated (compiled .po)


def test_it_formats_yen_without_decimals(client: Any, tenant: Company, customer: Customer) -> None:
    invoice = factories.make_invoice(
        tenant, customer, currency="jpy", lines=[("A", "1", 1235, "0")]
    )
    html = client.get(f"/invoice/{factories.share_token(invoice)}?lang=en").content.decode()
    assert "¥1,235" in html


def test_it_follows_lang_over_the_browser(client: Any, invoice: Any, token: str) -> None:
    response = client.get(f"/invoice/{token}?lang=fr", HTTP_ACCEPT_LANGUAGE="de")
    assert response["Content-Language"] == "fr"
    assert "343,81\xa0$US" in response.content.decode()


def test_it_formats_money_in_the_active_language() -> None:
    from django.utils import translation

    with translation.override("de"):
        assert money(123450, "eur") == "1.234,50\xa0€"
    with translation.override("en"):
        assert money(123450, "eur") == "€1,234.50"


def test_it_gives_the_thread_its_language_back(client: Any, invoice: Any, token: str) -> None:
    from django.utils import translation

    translation.activate("en")
    response = client.get(f"/invoice/{token}?lang=es")
    assert response["Content-Language"] == "es"
    # Nothing after the response (other tests, a worker's next job) inherits the customer's.
    assert translation.get_language() == "en"
