"""Embed settings in the admin: isolation, the secret shown once, rotation, uploads."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from invoices.models import Company, Customer, Membership
from invoices.models.company import Role
from portal.embed.models import EmbedSecret, EmbedSettings
from tests.embed.conftest import frame_url, signed

pytestmark = pytest.mark.django_db

Embed = tuple[EmbedSettings, str]


def _form(company: Company, **overrides: Any) -> dict[str, Any]:
    data = {
        "company": company.pk,
        "mode": "live",
        "identify_by": "email",
        "allowed_origins_text": "https://Shop.Example.com/\nhttp://localhost:3000",
        "detect_browser_language": "on",
        "translation_language": "",
    }
    data.update(overrides)
    return data


def _messages(response: Any) -> str:
    return " ".join(str(message) for message in response.context["messages"])


def test_it_checks_ownership(client: Any, outsider: Any, tenant: Company, embed: Embed) -> None:
    client.force_login(outsider)
    for route in ("change", "delete", "history"):
        url = reverse(f"admin:embed_embedsettings_{route}", args=[embed[0].pk])
        assert client.get(url).status_code == 404
    listing = client.get(reverse("admin:embed_embedsettings_changelist"))
    assert tenant.name not in listing.content.decode()


def test_it_creates_settings_and_shows_the_secret_once(
    client: Any, owner: Any, tenant: Company, customer: Customer
) -> None:
    client.force_login(owner)
    response = client.post(reverse("admin:embed_embedsettings_add"), _form(tenant), follow=True)
    assert response.status_code == 200
    embed = EmbedSettings.objects.get(company=tenant)
    assert embed.allowed_origins == ["https://shop.example.com", "http://localhost:3000"]
    shown = _messages(response)
    secret = shown.split("<code>", 1)[1].split("</code>", 1)[0]
    assert secret.startswith("emb_")
    # The shown secret is the one that works, and it is stored encrypted, not in clear.
    assert client.get(frame_url(tenant, **signed(secret, "ada@example.com"))).status_code == 200
    assert secret not in EmbedSecret.objects.get(company=tenant).secret_encrypted
    # Opening the settings again never shows it.
    page = client.get(reverse("admin:embed_embedsettings_change", args=[embed.pk]))
    assert secret not in page.content.decode()
    assert tenant.public_key in page.content.decode()  # the snippet
    snippet = page.content.decode().split('class="embed-snippet"', 1)[1].split("</pre>", 1)[0]
    assert "&lt;div id=&quot;invoice-portal&quot;&gt;&lt;/div&gt;" in snippet
    assert f"&lt;script src=&quot;{django_settings.PUBLIC_BASE_URL}/embed.js&quot; async" in snippet
    assert f"data-company=&quot;{tenant.public_key}&quot;" in snippet
    assert "data-customer=&quot;CUSTOMER_EMAIL&quot;" in snippet
    assert "data-hash=&quot;HASH&quot;" in snippet


def test_it_refuses_an_origin_with_a_path(client: Any, owner: Any, tenant: Company) -> None:
    client.force_login(owner)
    data = _form(tenant, allowed_origins_text="https://shop.example.com/billing")
    response = client.post(reverse("admin:embed_embedsettings_add"), data)
    assert response.status_code == 200  # the form again, with the error
    assert "origin only" in response.content.decode()
    assert not EmbedSettings.objects.filter(company=tenant).exists()


def test_it_rotates_the_secret_keeping_the_old_one_for_a_grace_period(
    client: Any, owner: Any, tenant: Company, customer: Customer, embed: Embed
) -> None:
    client.force_login(owner)
    response = client.post(
        reverse("admin:embed_embedsettings_changelist"),
        {"action": "rotate_secret", "_selected_action": [embed[0].pk]},
        follow=True,
    )
    new = _messages(response).split("<code>", 1)[1].split("</code>", 1)[0]
    assert new != embed[1]
    for secret in (new, embed[1]):
        assert client.get(frame_url(tenant, **signed(secret, "ada@example.com"))).status_code == 200


def test_it_rotates_the_secret_at_once_for_a_leak(
    client: Any, owner: Any, tenant: Company, customer: Customer, embed: Embed
) -> None:
    client.force_login(owner)
    client.post(
        reverse("admin:embed_embedsettings_changelist"),
        {"action": "rotate_secret_now", "_selected_action": [embed[0].pk]},
    )
    assert client.get(frame_url(tenant, **signed(embed[1], "ada@example.com"))).status_code == 403


def test_it_lets_read_only_staff_not_rotate(
    client: Any, viewer: Any, tenant: Company, customer: Customer, embed: Embed
) -> None:
    client.force_login(viewer)
    client.post(
        reverse("admin:embed_embedsettings_changelist"),
        {"action": "rotate_secret_now", "_selected_action": [embed[0].pk]},
    )
    assert client.get(frame_url(tenant, **signed(embed[1], "ada@example.com"))).status_code == 200


def test_it_uploads_a_translation_resource(
    client: Any, owner: Any, tenant: Company, embed: Embed
) -> None:
    client.force_login(owner)
    url = reverse("admin:embed_embedsettings_change", args=[embed[0].pk])
    upload = SimpleUploadedFile("de.json", b'{"Amount due": "Offen"}', "application/json")
    data = _form(tenant, translation_language="de", translation_file=upload)
    data.pop("company")
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    embed[0].refresh_from_db()
    assert embed[0].translations == {"de": {"Amount due": "Offen"}}

    bad = SimpleUploadedFile("de.json", b'{"Invoice %(number)s": "Rechnung"}', "application/json")
    data = _form(tenant, translation_language="de", translation_file=bad)
    data.pop("company")
    response = client.post(url, data)
    assert response.status_code == 200
    assert "placeholders" in response.content.decode()
    embed[0].refresh_from_db()
    assert embed[0].translations == {"de": {"Amount due": "Offen"}}


def test_it_lets_read_only_staff_not_create_settings_and_get_the_secret(
    client: Any, viewer: Any, tenant: Company, other_tenant: Company, customer: Customer
) -> None:
    # Read only at tenant, but owns another company: may add settings for that one only.
    Membership.objects.create(user=viewer, company=other_tenant, role=Role.OWNER)
    client.force_login(viewer)
    response = client.post(reverse("admin:embed_embedsettings_add"), _form(tenant), follow=True)
    assert not EmbedSettings.objects.filter(company=tenant).exists()
    assert not EmbedSecret.objects.filter(company=tenant).exists()
    assert "<code>emb_" not in _messages(response)
    response = client.post(
        reverse("admin:embed_embedsettings_add"), _form(other_tenant), follow=True
    )
    assert EmbedSettings.objects.filter(company=other_tenant).exists()
