"""Every customer page offers its other languages: a nav (aria-label "Language") of links to
the same page with ``?lang=``, the current language marked with aria-current."""

from __future__ import annotations

import re
from typing import Any

import pytest

from invoices.models import Company, Customer, Invoice
from payments import services as payment_services
from payments.models import AttemptKind, CheckoutAttempt
from preferences.services import email_preference_ensure, email_preference_token

LANGUAGES = {"en": "English", "de": "Deutsch", "fr": "Français", "es": "Español"}


def _switcher(html: str) -> str:
    match = re.search(r'<nav class="language-switcher" aria-label="[^"]+">.*?</nav>', html, re.S)
    assert match, "no language switcher on the page"
    return match.group(0)


def _assert_switcher(response: Any, path: str, *, current: str, keeps: str = "") -> None:
    nav = _switcher(response.content.decode())
    for code, name in LANGUAGES.items():
        query = f"{keeps}&amp;lang={code}" if keeps else f"lang={code}"
        link = re.search(rf'<a href="{re.escape(path)}\?{re.escape(query)}"[^>]*>{name}</a>', nav)
        assert link, (code, nav)
        assert ('aria-current="page"' in link.group(0)) == (code == current), link.group(0)


def test_it_is_on_the_invoice_page(client: Any, token: str) -> None:
    response = client.get(f"/invoice/{token}?source=email&lang=de")
    assert response.status_code == 200
    assert 'aria-label="Sprache"' in response.content.decode()
    _assert_switcher(response, f"/invoice/{token}", current="de", keeps="source=email")


def test_it_is_on_the_portal(client: Any, portal_token: str) -> None:
    response = client.get(f"/portal/{portal_token}?page=1")
    _assert_switcher(response, f"/portal/{portal_token}", current="en", keeps="page=1")


def test_it_is_on_the_preferences_page(client: Any, tenant: Company, customer: Customer) -> None:
    preference = email_preference_ensure(company_id=tenant.pk, email=customer.email)
    token = email_preference_token(preference)
    response = client.get(f"/preferences/{token}?lang=fr")
    assert response.status_code == 200
    _assert_switcher(response, f"/preferences/{token}", current="fr")


def test_it_is_on_the_cancel_page(client: Any, token: str) -> None:
    response = client.get(f"/invoice/{token}/pay/cancel?lang=es")
    _assert_switcher(response, f"/invoice/{token}/pay/cancel", current="es")


def test_it_is_on_the_success_page(
    client: Any, invoice: Invoice, token: str, monkeypatch: Any
) -> None:
    attempt = CheckoutAttempt.objects.create(
        company=invoice.company,
        invoice=invoice,
        kind=AttemptKind.CHECKOUT,
        amount=invoice.amount_due,
        currency=invoice.currency,
        amount_paid_before=0,
        idempotency_key="switcher-test",
    )
    monkeypatch.setattr(
        payment_services,
        "checkout_reconcile",
        lambda **kwargs: payment_services.PayOutcome("processing"),
    )
    response = client.get(f"/invoice/{token}/pay/success?attempt={attempt.public_id}&lang=de")
    assert response.status_code == 200
    _assert_switcher(
        response,
        f"/invoice/{token}/pay/success",
        current="de",
        keeps=f"attempt={attempt.public_id}",
    )


def test_a_page_answering_a_post_links_the_invoice_page(client: Any, token: str) -> None:
    # Pay is refused (no Stripe): the refusal answers the POST, so its links open the invoice.
    response = client.post(f"/invoice/{token}/pay?lang=fr", {"amount": "10"})
    assert response.status_code == 409
    _assert_switcher(response, f"/invoice/{token}", current="fr")


@pytest.mark.django_db
def test_the_not_found_page_has_none(client: Any) -> None:
    # It must not depend on the path (the same bytes for every bad token).
    assert "language-switcher" not in client.get("/invoice/nope").content.decode()
