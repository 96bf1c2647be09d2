"""The portal entry and email sign-in: no enumeration, limits that fail closed, a link that
works once, and sessions that stay inside their company."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

import pytest
from django.core.cache import caches
from django.utils import timezone

from invoices.customer_sessions.cookies import COOKIE_NAME, SECURE_COOKIE_NAME
from invoices.customer_sessions.models import CustomerSession, SignInLink
from invoices.models import AuditEvent, Company, Customer
from tests import factories
from tests.sign_in.conftest import emailed_links


def ask(client: Any, on_commit: Any, email: str, slug: str = "tenant", **extra: Any) -> Any:
    return on_commit(client.post, f"/c/{slug}/sign-in", {"email": email}, **extra)


def signed_in_path(client: Any, mailoutbox: list[Any], on_commit: Any, email: str) -> str:
    assert ask(client, on_commit, email).status_code == 200
    (path,) = emailed_links(mailoutbox[-1])
    return path


# The entry ------------------------------------------------------------------------------


def test_it_shows_the_branded_entry_with_an_email_form(client: Any, tenant: Company) -> None:
    response = client.get("/c/tenant/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Tenant Ltd" in body
    assert 'name="email"' in body and 'action="/c/tenant/sign-in"' in body
    assert response["Cache-Control"] == "no-store"
    assert response["X-Robots-Tag"].startswith("noindex")
    assert response["Referrer-Policy"] == "no-referrer"
    assert "Content-Security-Policy" in response


@pytest.mark.parametrize("lang", ["de", "fr", "es"])
def test_it_speaks_the_four_languages(client: Any, tenant: Company, lang: str) -> None:
    english = client.get("/c/tenant/?lang=en").content.decode()
    other = client.get(f"/c/tenant/?lang={lang}")
    assert other["Content-Language"] == lang
    assert other.content.decode() != english


def test_it_answers_not_found_for_an_unknown_company(client: Any, db: Any) -> None:
    for response in (
        client.get("/c/nobody/"),
        client.post("/c/nobody/sign-in", {"email": "a@b.co"}),
    ):
        assert response.status_code == 404
        assert b"Invoice not found" in response.content


def test_it_sends_visitors_to_the_companys_own_sign_in_page(client: Any, tenant: Company) -> None:
    tenant.portal_sign_in_url = "https://app.example.com/login?next=billing"
    tenant.save()
    response = client.get("/c/tenant/")
    assert response.status_code == 302
    assert response["Location"] == "https://app.example.com/login?next=billing&return_to=home"
    # A page name it asked for travels along; anything else becomes home.
    assert client.get("/c/tenant/?return_to=statement")["Location"].endswith("return_to=statement")
    evil = client.get("/c/tenant/?return_to=https://evil.example/")
    assert evil["Location"].endswith("return_to=home")


# The request: same bytes, mail from Celery ----------------------------------------------


def test_it_answers_the_same_bytes_for_a_customer_and_a_stranger(
    client: Any, customer: Customer, mailoutbox: list[Any], on_commit: Any
) -> None:
    known = ask(client, on_commit, "ada@example.com")
    unknown = ask(client, on_commit, "eve@example.com")
    assert known.status_code == unknown.status_code == 200
    assert known.content.replace(b"ada@", b"eve@") == unknown.content
    assert b"ada@example.com" in known.content  # the typed address is echoed
    assert [m.to for m in mailoutbox] == [["ada@example.com"]]


def test_it_matches_the_address_in_any_case_and_signs_in_once(
    client: Any, customer: Customer, mailoutbox: list[Any], on_commit: Any
) -> None:
    path = signed_in_path(client, mailoutbox, on_commit, "  ADA@Example.COM ")
    assert mailoutbox[-1].to == ["ada@example.com"]
    response = client.post(path)
    assert response.status_code == 303
    assert response["Location"] == f"/portal/{factories.portal_token(customer)}"
    assert COOKIE_NAME in response.cookies
    cookie = response.cookies[COOKIE_NAME]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == "/"
    # Used: the same not-found page as a forged link.
    again = client.post(path)
    forged = client.post(path[:-1] + ("A" if path[-1] != "A" else "B"))
    assert again.status_code == forged.status_code == 404
    assert again.content == forged.content
    assert (
        AuditEvent.objects.filter(action="customer.signed_in", object_id=customer.public_id).count()
        == 1
    )


def test_it_lets_the_person_choose_when_several_customers_share_the_address(
    client: Any, tenant: Company, mailoutbox: list[Any], on_commit: Any
) -> None:
    first = factories.make_customer(tenant, name="Ada Ltd", email="ada@example.com")
    second = factories.make_customer(tenant, name="Ada GmbH", email="Ada@Example.com")
    ask(client, on_commit, "ada@example.com")
    (message,) = mailoutbox
    assert "Ada Ltd" in message.body and "Ada GmbH" in message.body
    paths = emailed_links(message)
    assert len(paths) == 2
    html = message.alternatives[0][0]
    assert all(path in html for path in paths)
    # "Ada GmbH" sorts first.
    assert client.post(paths[0])["Location"] == f"/portal/{factories.portal_token(second)}"
    assert client.post(paths[1])["Location"] == f"/portal/{factories.portal_token(first)}"


def test_it_never_emails_another_companys_customer(
    client: Any, customer: Customer, other_tenant: Company, mailoutbox: list[Any], on_commit: Any
) -> None:
    ask(client, on_commit, "ada@example.com", slug="other")
    assert mailoutbox == []


def test_it_refuses_a_malformed_address_with_the_form_again(
    client: Any, tenant: Company, mailoutbox: list[Any], on_commit: Any
) -> None:
    response = ask(client, on_commit, "not an address")
    assert response.status_code == 400
    assert b"Enter a valid email address." in response.content
    assert b'aria-invalid="true"' in response.content
    assert mailoutbox == []


# The link ---------------------------------------------------------------------------------


def test_a_scanners_get_changes_nothing(
    client: Any, customer: Customer, mailoutbox: list[Any], on_commit: Any
) -> None:
    path = signed_in_path(client, mailoutbox, on_commit, "ada@example.com")
    for _ in range(3):
        page = client.get(path)
        assert page.status_code == 200
        assert b"Continue" in page.content
        assert not page.cookies
    assert client.head(path).status_code == 200
    assert not CustomerSession.objects.exists()
    assert SignInLink.objects.get().used_at is None
    assert client.post(path).status_code == 303


def test_it_refuses_a_link_after_thirty_minutes(
    client: Any, customer: Customer, mailoutbox: list[Any], on_commit: Any, monkeypatch: Any
) -> None:
    path = signed_in_path(client, mailoutbox, on_commit, "ada@example.com")
    later = timezone.now() + dt.timedelta(minutes=30, seconds=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    for response in (client.get(path), client.post(path)):
        assert response.status_code == 404
        assert b"Invoice not found" in response.content
    assert not CustomerSession.objects.exists()


def test_a_database_copy_of_the_link_opens_nothing(
    client: Any, customer: Customer, mailoutbox: list[Any], on_commit: Any
) -> None:
    signed_in_path(client, mailoutbox, on_commit, "ada@example.com")
    selector = SignInLink.objects.get().selector
    assert client.post(f"/sign-in/{selector}").status_code == 404
    assert client.post(f"/sign-in/{selector}{'A' * 22}").status_code == 404


def test_it_rotates_the_cookie_at_each_sign_in(
    client: Any, customer: Customer, mailoutbox: list[Any], on_commit: Any, monkeypatch: Any
) -> None:
    first = client.post(signed_in_path(client, mailoutbox, on_commit, "ada@example.com"))
    caches["default"].clear()  # the debounce
    second = client.post(signed_in_path(client, mailoutbox, on_commit, "ada@example.com"))
    assert first.cookies[COOKIE_NAME].value != second.cookies[COOKIE_NAME].value
    old, new = CustomerSession.objects.order_by("created_at")
    assert old.revoked_at is not None and new.revoked_at is None


def test_it_uses_the_host_prefixed_cookie_over_https(
    client: Any, customer: Customer, mailoutbox: list[Any], on_commit: Any, settings: Any
) -> None:
    settings.SECURE_SSL_REDIRECT = False
    path = signed_in_path(client, mailoutbox, on_commit, "ada@example.com")
    response = client.post(path, secure=True)
    cookie = response.cookies[SECURE_COOKIE_NAME]
    assert cookie["secure"] and cookie["path"] == "/" and not cookie["domain"]
    assert COOKIE_NAME not in response.cookies


# Sessions ---------------------------------------------------------------------------------


def test_a_signed_in_customer_goes_from_the_entry_to_the_account(
    client: Any, customer: Customer, mailoutbox: list[Any], on_commit: Any
) -> None:
    client.post(signed_in_path(client, mailoutbox, on_commit, "ada@example.com"))
    response = client.get("/c/tenant/")
    assert response.status_code == 303
    assert response["Location"] == f"/portal/{factories.portal_token(customer)}"


def test_a_session_of_one_company_never_opens_another(
    client: Any, customer: Customer, other_tenant: Company, mailoutbox: list[Any], on_commit: Any
) -> None:
    factories.make_customer(other_tenant, name="Ada at Other", email="ada@example.com")
    client.post(signed_in_path(client, mailoutbox, on_commit, "ada@example.com"))
    response = client.get("/c/other/")
    assert response.status_code == 200
    assert b'name="email"' in response.content


def test_a_session_ends_after_fourteen_idle_days_and_after_thirty_days(
    client: Any, customer: Customer, mailoutbox: list[Any], on_commit: Any, monkeypatch: Any
) -> None:
    client.post(signed_in_path(client, mailoutbox, on_commit, "ada@example.com"))
    start = timezone.now()
    # Used every 10 days: alive at 20 days, gone past 30 days whatever the use.
    for days in (10, 20, 29):
        monkeypatch.setattr(timezone, "now", lambda days=days: start + dt.timedelta(days=days))
        assert client.get("/c/tenant/").status_code == 303, days
    monkeypatch.setattr(timezone, "now", lambda: start + dt.timedelta(days=30, minutes=1))
    assert client.get("/c/tenant/").status_code == 200

    caches["default"].clear()
    monkeypatch.setattr(timezone, "now", lambda: start)
    client.post(signed_in_path(client, mailoutbox, on_commit, "ada@example.com"))
    monkeypatch.setattr(timezone, "now", lambda: start + dt.timedelta(days=14, minutes=1))
    assert client.get("/c/tenant/").status_code == 200


# Limits -----------------------------------------------------------------------------------


def test_it_debounces_an_address_with_the_same_answer(
    client: Any, customer: Customer, mailoutbox: list[Any], on_commit: Any
) -> None:
    first = ask(client, on_commit, "ada@example.com")
    second = ask(client, on_commit, "ada@example.com")
    assert first.content == second.content
    assert len(mailoutbox) == 1


def test_it_limits_per_address_across_clients(
    client: Any, customer: Customer, mailoutbox: list[Any], on_commit: Any
) -> None:
    statuses = [
        ask(client, on_commit, "ada@example.com", REMOTE_ADDR=f"198.51.100.{n}").status_code
        for n in range(7)
    ]
    assert statuses == [200] * 5 + [429] * 2
    assert len(mailoutbox) == 1  # the others came within the debounce


def test_it_limits_per_ip_and_company(
    client: Any, tenant: Company, other_tenant: Company, on_commit: Any
) -> None:
    statuses = [ask(client, on_commit, f"x{n}@example.com").status_code for n in range(21)]
    assert statuses == [200] * 20 + [429]
    # Another company has its own budget.
    assert ask(client, on_commit, "y@example.com", slug="other").status_code == 200


def test_it_fails_closed_when_redis_is_down(
    client: Any, customer: Customer, mailoutbox: list[Any], on_commit: Any, settings: Any
) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        }
    }
    with contextlib.suppress(AttributeError, KeyError):
        del caches["default"]
    response = ask(client, on_commit, "ada@example.com")
    assert response.status_code == 503
    assert b"not possible right now" in response.content
    assert mailoutbox == []
    assert not SignInLink.objects.exists()


# Query counts -----------------------------------------------------------------------------


def test_the_pages_cost_a_constant_number_of_queries(
    client: Any,
    customer: Customer,
    mailoutbox: list[Any],
    on_commit: Any,
    django_assert_num_queries: Any,
) -> None:
    # The entry: 1 the company by slug (no cookie, so no session lookup).
    with django_assert_num_queries(1):
        assert client.get("/c/tenant/").status_code == 200
    # The request: 1 the company by slug; the lookup of customers happens in Celery, later.
    with django_assert_num_queries(1):
        assert client.post("/c/tenant/sign-in", {"email": "ada@example.com"}).status_code == 200
    caches["default"].clear()
    ask(client, on_commit, "ada@example.com")
    (link,) = emailed_links(mailoutbox[-1])
    # The Continue page: 1 the link with its company and customer (selector, unused, unexpired).
    with django_assert_num_queries(1):
        assert client.get(link).status_code == 200


def test_it_takes_the_address_as_json_too(
    client: Any, customer: Customer, mailoutbox: list[Any], on_commit: Any
) -> None:
    response = on_commit(
        client.post,
        "/c/tenant/sign-in",
        '{"email": "ada@example.com"}',
        content_type="application/json",
    )
    assert response.status_code == 200
    assert [m.to for m in mailoutbox] == [["ada@example.com"]]
    bad = client.post("/c/tenant/sign-in", "[1]", content_type="application/json")
    assert bad.status_code == 400
