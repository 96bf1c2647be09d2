"""Who gets into the frame: the security hash, modes, identification and the invoice set."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from django.utils import timezone

from invoices.models import Company, Customer
from portal.embed import services
from portal.embed.access import EmbedCredentials, EmbedDenied, embed_authorize
from portal.embed.hashing import compute_hash
from portal.embed.models import EmbedSettings
from tests import factories
from tests.embed.conftest import frame_url, make_embed, signed

Embed = tuple[EmbedSettings, str]


def _get(client: Any, url: str) -> Any:
    return client.get(url, HTTP_ACCEPT_LANGUAGE="en")


def _denied_code(response: Any) -> str:
    assert response.status_code == 403, response.content[:500]
    body = response.content.decode()
    assert 'data-testid="embed-denied"' in body
    return body.split('data-code="', 1)[1].split('"', 1)[0]


def _assert_no_expected_hash(response: Any, secret: str, identifier: str) -> None:
    body = response.content.decode()
    assert compute_hash(secret=secret, identifier=identifier) not in body
    assert secret not in body


def test_it_accepts_the_plain_hash(
    client: Any, tenant: Company, customer: Customer, embed: Embed
) -> None:
    invoice = factories.make_invoice(tenant, customer)
    response = _get(client, frame_url(tenant, **signed(embed[1], "ada@example.com")))
    assert response.status_code == 200
    assert invoice.number in response.content.decode()
    assert 'data-testid="test-mode-banner"' not in response.content.decode()


def test_it_accepts_the_expiring_hash(
    client: Any, tenant: Company, customer: Customer, embed: Embed
) -> None:
    invoice = factories.make_invoice(tenant, customer)
    response = _get(client, frame_url(tenant, **signed(embed[1], "ada@example.com", ttl=600)))
    assert response.status_code == 200
    assert invoice.number in response.content.decode()


def test_it_refuses_a_missing_hash_in_live_mode(
    client: Any, tenant: Company, customer: Customer, embed: Embed
) -> None:
    response = _get(client, frame_url(tenant, customer="ada@example.com"))
    assert _denied_code(response) == "missing_hash"
    assert "live mode" in response.content.decode()


def test_it_refuses_a_hash_made_with_the_wrong_secret(
    client: Any, tenant: Company, customer: Customer, embed: Embed
) -> None:
    params = signed("not-the-secret", "ada@example.com")
    response = _get(client, frame_url(tenant, **params))
    assert _denied_code(response) == "wrong_hash"
    _assert_no_expected_hash(response, embed[1], "ada@example.com")


def test_it_refuses_a_hash_made_with_another_companys_secret(
    client: Any, tenant: Company, other_tenant: Company, customer: Customer, embed: Embed
) -> None:
    _other_embed, other_secret = make_embed(other_tenant)
    response = _get(client, frame_url(tenant, **signed(other_secret, "ada@example.com")))
    assert _denied_code(response) == "wrong_hash"
    _assert_no_expected_hash(response, embed[1], "ada@example.com")


def test_it_refuses_a_hash_of_another_identifier(
    client: Any, tenant: Company, customer: Customer, embed: Embed
) -> None:
    factories.make_customer(tenant, email="bob@example.com")
    params = signed(embed[1], "bob@example.com")
    params["customer"] = "ada@example.com"
    response = _get(client, frame_url(tenant, **params))
    assert _denied_code(response) == "wrong_hash"
    _assert_no_expected_hash(response, embed[1], "ada@example.com")


def test_it_refuses_an_expired_timed_hash(
    client: Any, tenant: Company, customer: Customer, embed: Embed
) -> None:
    expires = int(time.time()) - 5
    digest = compute_hash(secret=embed[1], identifier="ada@example.com", expires=expires)
    url = frame_url(tenant, customer="ada@example.com", hash=digest, expires=expires)
    response = _get(client, url)
    assert _denied_code(response) == "expired"
    assert "expired at" in response.content.decode()


def test_it_refuses_an_expiry_far_in_the_future(
    client: Any, tenant: Company, customer: Customer, embed: Embed
) -> None:
    response = _get(
        client, frame_url(tenant, **signed(embed[1], "ada@example.com", ttl=30 * 86400))
    )
    assert _denied_code(response) == "expiry_too_far"


def test_it_says_when_a_plain_hash_comes_with_an_expiry(
    client: Any, tenant: Company, customer: Customer, embed: Embed
) -> None:
    params = signed(embed[1], "ada@example.com")
    params["expires"] = int(time.time()) + 600
    response = _get(client, frame_url(tenant, **params))
    assert _denied_code(response) == "wrong_hash"
    assert "identifier alone" in response.content.decode()


def test_it_requires_the_expiring_form_when_the_company_says_so(
    client: Any, tenant: Company, customer: Customer
) -> None:
    _embed, secret = make_embed(tenant, require_expiring_hash=True)
    response = _get(client, frame_url(tenant, **signed(secret, "ada@example.com")))
    assert _denied_code(response) == "expiring_hash_required"
    response = _get(client, frame_url(tenant, **signed(secret, "ada@example.com", ttl=600)))
    assert response.status_code == 200


def test_it_accepts_the_previous_secret_within_the_grace_period(
    client: Any, tenant: Company, customer: Customer, embed: Embed
) -> None:
    old = embed[1]
    new = services.embed_secret_rotate(company=tenant, grace=dt.timedelta(hours=1))
    assert new != old
    assert _get(client, frame_url(tenant, **signed(old, "ada@example.com"))).status_code == 200
    assert _get(client, frame_url(tenant, **signed(new, "ada@example.com"))).status_code == 200


def test_it_refuses_the_previous_secret_after_the_grace_period(
    client: Any, tenant: Company, customer: Customer, embed: Embed
) -> None:
    old = embed[1]
    new = services.embed_secret_rotate(company=tenant, grace=dt.timedelta(hours=1))
    settings = EmbedSettings.objects.select_related("company__embed_secret").get(company=tenant)
    later = timezone.now() + dt.timedelta(hours=1, seconds=1)
    credentials = EmbedCredentials(
        identifier="ada@example.com",
        hash=compute_hash(secret=old, identifier="ada@example.com"),
        expires="",
    )
    with pytest.raises(EmbedDenied) as refused:
        embed_authorize(settings=settings, credentials=credentials, now=later)
    assert refused.value.code == "rotated_secret"
    fresh = EmbedCredentials(
        identifier="ada@example.com",
        hash=compute_hash(secret=new, identifier="ada@example.com"),
        expires="",
    )
    assert embed_authorize(settings=settings, credentials=fresh, now=later).customer == customer


def test_it_refuses_the_old_secret_at_once_after_an_immediate_rotation(
    client: Any, tenant: Company, customer: Customer, embed: Embed
) -> None:
    services.embed_secret_rotate(company=tenant, grace=dt.timedelta(0))
    response = _get(client, frame_url(tenant, **signed(embed[1], "ada@example.com")))
    assert _denied_code(response) == "wrong_hash"


def test_it_shows_test_mode_without_a_hash(
    client: Any, tenant: Company, customer: Customer
) -> None:
    make_embed(tenant, mode="test")
    invoice = factories.make_invoice(tenant, customer)
    response = _get(client, frame_url(tenant, customer="ada@example.com"))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-testid="test-mode-banner"' in body
    assert invoice.number in body


def test_it_still_checks_a_hash_given_in_test_mode(
    client: Any, tenant: Company, customer: Customer
) -> None:
    make_embed(tenant, mode="test")
    response = _get(client, frame_url(tenant, customer="ada@example.com", hash="0" * 64))
    assert _denied_code(response) == "wrong_hash"


def test_it_identifies_by_email_case_insensitively_within_the_company(
    client: Any, tenant: Company, other_tenant: Company, customer: Customer, embed: Embed
) -> None:
    mine = factories.make_invoice(tenant, customer)
    stranger = factories.make_customer(other_tenant, email="ada@example.com")
    theirs = factories.make_invoice(other_tenant, stranger)
    response = _get(client, frame_url(tenant, **signed(embed[1], "ADA@Example.com")))
    assert response.status_code == 200
    body = response.content.decode()
    assert mine.public_id in body
    assert theirs.public_id not in body


def test_it_identifies_by_external_id(client: Any, tenant: Company) -> None:
    _embed, secret = make_embed(tenant, identify_by="external_id")
    ada = factories.make_customer(tenant, email="ada@example.com", external_id="crm-42")
    invoice = factories.make_invoice(tenant, ada)
    response = _get(client, frame_url(tenant, **signed(secret, "crm-42")))
    assert response.status_code == 200
    assert invoice.number in response.content.decode()
    # The email is not an identifier in this mode, even with a valid hash of it.
    response = _get(client, frame_url(tenant, **signed(secret, "ada@example.com")))
    assert _denied_code(response) == "unknown_customer"


def test_it_refuses_an_unknown_customer_after_checking_the_hash(
    client: Any, tenant: Company, embed: Embed
) -> None:
    response = _get(client, frame_url(tenant, **signed(embed[1], "nobody@example.com")))
    assert _denied_code(response) == "unknown_customer"
    # Without the secret nobody learns whether the customer exists: the hash fails first.
    response = _get(client, frame_url(tenant, customer="nobody@example.com", hash="0" * 64))
    assert _denied_code(response) == "wrong_hash"


def test_it_refuses_an_email_shared_by_two_customers(
    client: Any, tenant: Company, embed: Embed
) -> None:
    factories.make_customer(tenant, email="twin@example.com")
    factories.make_customer(tenant, email="Twin@example.com")
    response = _get(client, frame_url(tenant, **signed(embed[1], "twin@example.com")))
    assert _denied_code(response) == "ambiguous_customer"


def test_it_lists_only_open_invoices_by_default(
    client: Any, tenant: Company, customer: Customer, embed: Embed
) -> None:
    open_one = factories.make_invoice(tenant, customer)
    paid = factories.make_invoice(tenant, customer, status="paid")
    void = factories.make_invoice(tenant, customer, status="void")
    draft = factories.make_invoice(tenant, customer, status="draft")
    body = _get(client, frame_url(tenant, **signed(embed[1], "ada@example.com"))).content.decode()
    assert open_one.public_id in body
    assert paid.public_id not in body
    assert void.public_id not in body
    assert draft.public_id not in body


def test_it_lists_every_issued_invoice_with_show_all(
    client: Any, tenant: Company, customer: Customer
) -> None:
    _embed, secret = make_embed(tenant, show_all_invoices=True)
    open_one = factories.make_invoice(tenant, customer)
    paid = factories.make_invoice(tenant, customer, status="paid")
    void = factories.make_invoice(tenant, customer, status="void")
    draft = factories.make_invoice(tenant, customer, status="draft")
    body = _get(client, frame_url(tenant, **signed(secret, "ada@example.com"))).content.decode()
    assert open_one.public_id in body
    assert paid.public_id in body
    assert void.public_id in body
    assert draft.public_id not in body


def test_it_answers_404_for_a_company_without_an_embed(
    client: Any, tenant: Company, customer: Customer
) -> None:
    response = _get(client, frame_url(tenant, customer="ada@example.com"))
    assert response.status_code == 404
    assert 'data-testid="embed-unknown"' in response.content.decode()
    response = _get(client, "/embed/pub_doesnotexist?customer=ada@example.com")
    assert response.status_code == 404


def test_it_says_which_invoices_are_missing_when_there_are_none(
    client: Any, tenant: Company, customer: Customer, embed: Embed
) -> None:
    factories.make_invoice(tenant, customer, status="paid")
    body = _get(client, frame_url(tenant, **signed(embed[1], "ada@example.com"))).content.decode()
    assert "No open invoices." in body


def test_it_refuses_a_twelve_digit_expires_without_a_500(
    client: Any, tenant: Company, embed: tuple[Any, str]
) -> None:
    expires = 999999999999
    digest = compute_hash(secret=embed[1], identifier="ada@example.com", expires=expires)
    url = frame_url(tenant, customer="ada@example.com", hash=digest, expires=expires)
    response = client.get(url)
    assert response.status_code in (400, 403)
