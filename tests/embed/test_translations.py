"""Language choice and a company's own strings inside the frame."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.translation import gettext

from invoices.models import Company, Customer
from portal.embed import services
from portal.embed.i18n import custom_strings
from portal.embed.models import EmbedSettings
from portal.embed.validation import parse_translation_file
from tests import factories
from tests.embed.conftest import frame_url, signed

Embed = tuple[EmbedSettings, str]


def test_it_overrides_any_portal_string_with_the_custom_resource(
    client: Any, tenant: Company, customer: Customer, embed: Embed
) -> None:
    factories.make_invoice(tenant, customer)
    services.embed_translation_set(
        settings=embed[0], language="en", resource={"Amount due": "Balance to settle"}
    )
    response = client.get(
        frame_url(tenant, **signed(embed[1], "ada@example.com")), HTTP_ACCEPT_LANGUAGE="en"
    )
    body = response.content.decode()
    assert "Balance to settle" in body
    assert "Amount due" not in body


def test_it_escapes_custom_strings_in_attributes_and_text_once(
    client: Any, tenant: Company, customer: Customer, embed: Embed
) -> None:
    factories.make_invoice(tenant, customer)
    services.embed_translation_set(
        settings=embed[0],
        language="en",
        resource={
            # Lands in data-label="…": a quote must not end the attribute.
            "Due": 'Due" autofocus onfocus="alert(1)',
            "Status": "State' onclick='alert(2)",
            "Invoices": 'Bills & "credits"',
        },
    )
    body = client.get(
        frame_url(tenant, **signed(embed[1], "ada@example.com")), HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    assert 'data-label="Due&quot; autofocus onfocus=&quot;alert(1)"' in body
    assert 'data-label="State&#x27; onclick=&#x27;alert(2)"' in body
    assert 'onfocus="' not in body and 'onfocus="' not in body
    assert "Bills &amp; &quot;credits&quot;" in body
    assert "&amp;amp;" not in body


def test_it_overrides_labels_built_in_python_too(
    client: Any, tenant: Company, customer: Customer, embed: Embed
) -> None:
    invoice = factories.make_invoice(tenant, customer)
    services.embed_translation_set(
        settings=embed[0], language="en", resource={"Open": "Awaiting payment"}
    )
    params = signed(embed[1], "ada@example.com")
    for path in ("", f"/invoices/{invoice.public_id}"):
        body = client.get(frame_url(tenant, path, **params), HTTP_ACCEPT_LANGUAGE="en").content
        assert "Awaiting payment" in body.decode(), path


def test_it_overrides_only_in_the_resources_language(
    client: Any, tenant: Company, customer: Customer, embed: Embed
) -> None:
    factories.make_invoice(tenant, customer)
    services.embed_translation_set(
        settings=embed[0], language="de", resource={"Amount due": "Noch offen"}
    )
    url = frame_url(tenant, **signed(embed[1], "ada@example.com"))
    assert "Noch offen" in client.get(url, HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Noch offen" not in client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    # The snippet's lang wins over the browser.
    assert "Noch offen" in client.get(url + "&lang=de", HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_it_uses_the_company_language_when_detection_is_off(
    client: Any, tenant: Company, customer: Customer, embed: Embed
) -> None:
    tenant.language = "de"
    tenant.save(update_fields=["language"])
    embed[0].detect_browser_language = False
    services.embed_settings_save(settings=embed[0])
    services.embed_translation_set(
        settings=embed[0], language="de", resource={"Invoices": "Belege"}
    )
    url = frame_url(tenant, **signed(embed[1], "ada@example.com"))
    response = client.get(url, HTTP_ACCEPT_LANGUAGE="fr")
    assert response["Content-Language"] == "de"
    assert "Belege" in response.content.decode()


def test_it_restores_the_normal_catalogue_after_rendering(db: Any) -> None:
    with translation.override("en"):
        with custom_strings("en", {"Invoices": "Bills"}):
            assert gettext("Invoices") == "Bills"
        assert gettext("Invoices") == "Invoices"


def test_it_validates_uploaded_resources() -> None:
    assert parse_translation_file(b'{"Amount due": "Balance"}') == {"Amount due": "Balance"}
    with pytest.raises(ValidationError, match="JSON"):
        parse_translation_file(b"{not json")
    with pytest.raises(ValidationError, match="JSON object"):
        parse_translation_file(b'["a list"]')
    with pytest.raises(ValidationError, match="string"):
        parse_translation_file(b'{"Amount due": 3}')
    # A placeholder lost or renamed would break the page when the string is formatted.
    with pytest.raises(ValidationError, match="placeholders"):
        parse_translation_file(b'{"Invoice %(number)s": "Rechnung"}')
    assert parse_translation_file(b'{"Invoice %(number)s": "Rechnung %(number)s"}')
    # Rendered unescaped like every translation: no markup from the company.
    with pytest.raises(ValidationError, match="plain text"):
        parse_translation_file(b'{"Amount due": "<a href=\\"https://evil.example\\">Pay</a>"}')
    with pytest.raises(ValidationError, match="plain text"):
        parse_translation_file(b'{"Invoices": "Bills >"}')
    assert parse_translation_file(b'{"Invoices": "Bills & \\"credits\\""}')


def test_it_refuses_an_unsupported_language(tenant: Company, embed: Embed) -> None:
    with pytest.raises(ValidationError):
        services.embed_translation_set(settings=embed[0], language="xx", resource={"A": "B"})
