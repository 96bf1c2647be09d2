"""The preferences page, the strict JSON endpoint and RFC 8058 one-click unsubscribe."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.test import Client

from invoices.models import AuditEvent, Company
from preferences.models import EmailPreference
from preferences.services import email_preference_ensure, email_preference_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def frozen_rate_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """django-ratelimit counts in fixed windows of wall-clock time; a test that crosses a
    window edge would see its count reset. Hold django-ratelimit's clock still."""
    import types

    import django_ratelimit.core

    now = float(int(time.time()))
    monkeypatch.setattr(django_ratelimit.core, "time", types.SimpleNamespace(time=lambda: now))


ALL_ON = {"documents": True, "reminders": True, "marketing": False}


def _state(preference: EmailPreference) -> dict[str, bool]:
    preference.refresh_from_db()
    return {
        "documents": preference.documents,
        "reminders": preference.reminders,
        "marketing": preference.marketing,
    }


def _patch(client: Client, token: str, body: Any, **extra: Any) -> Any:
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    extra.setdefault("content_type", "application/json")
    return client.patch(f"/preferences/{token}.json", data, **extra)


class TestTokens:
    @pytest.mark.parametrize(
        "bad",
        [
            "",
            "short",
            "0" * 32,
            # Right length and shape, wrong MAC.
            "0" * 32 + "A" * 22,
        ],
    )
    def test_it_rejects_missing_short_and_forged_tokens(
        self, client: Client, preference: EmailPreference, bad: str
    ) -> None:
        page = client.get(f"/preferences/{bad}")
        assert page.status_code == 404
        api = client.get(f"/preferences/{bad}.json")
        assert api.status_code == 404
        if bad:  # "/preferences/.json" is the page route with token ".json"
            assert api.json()["error"]["code"] == "not_found"
        assert client.post(f"/unsubscribe/{bad}?c=documents").status_code == 404
        assert _state(preference) == ALL_ON

    def test_it_shows_the_shared_not_found_page(self, client: Client) -> None:
        response = client.get("/preferences/" + "0" * 54)
        assert response.status_code == 404
        assert b"Invoice not found" in response.content

    def test_it_does_not_accept_an_invoice_share_token(
        self, client: Client, tenant: Company, customer: Any
    ) -> None:
        from tests import factories

        share = factories.share_token(factories.make_invoice(tenant, customer))
        # Same shape, another purpose: the MAC differs, so it opens nothing here.
        assert client.get(f"/preferences/{share}.json").status_code == 404

    def test_it_stores_only_the_selector(self, preference: EmailPreference, token: str) -> None:
        assert len(token) == 54 and token.startswith(preference.selector)
        assert len(preference.selector) == 32  # 128 bits of hex
        assert not EmailPreference.objects.filter(selector=token).exists()

    def test_it_gives_one_token_per_address(self, tenant: Company, customer: Any) -> None:
        first = email_preference_ensure(company_id=tenant.pk, email=customer.email)
        again = email_preference_ensure(company_id=tenant.pk, email=customer.email.upper())
        assert first.pk == again.pk
        assert email_preference_token(first) == email_preference_token(again)


class TestPage:
    def test_it_renders_the_three_toggles_and_changes_nothing(
        self, client: Client, preference: EmailPreference, token: str
    ) -> None:
        response = client.get(f"/preferences/{token}")
        assert response.status_code == 200
        html = response.content.decode()
        for name in ("documents", "reminders", "marketing"):
            assert f'name="{name}"' in html
        assert 'value="unsubscribe_all"' in html
        assert "Tenant Ltd" in html
        assert response["Cache-Control"] == "no-store"
        assert "Content-Security-Policy" in response
        # The script carries the request's CSP nonce.
        nonce = response.wsgi_request.csp_nonce
        assert f'nonce="{nonce}"' in html
        assert _state(preference) == ALL_ON
        assert not AuditEvent.objects.filter(action="email_preferences.updated").exists()

    def test_it_renders_with_two_queries(
        self, client: Client, token: str, django_assert_max_num_queries: Any
    ) -> None:
        # The preference with its company, and the customer's language. No session, no user.
        with django_assert_max_num_queries(2):
            assert client.get(f"/preferences/{token}").status_code == 200

    def test_it_saves_a_plain_form_post(
        self, client: Client, preference: EmailPreference, token: str
    ) -> None:
        response = client.post(f"/preferences/{token}", {"documents": "on", "marketing": "on"})
        assert response.status_code == 303
        assert response["Location"] == f"/preferences/{token}?saved=1"
        assert _state(preference) == {"documents": True, "reminders": False, "marketing": True}
        event = AuditEvent.objects.get(action="email_preferences.updated")
        assert event.data == {"source": "page", "changes": {"reminders": False, "marketing": True}}

    def test_it_unsubscribes_from_all_with_the_form(
        self, client: Client, preference: EmailPreference, token: str
    ) -> None:
        response = client.post(
            f"/preferences/{token}", {"documents": "on", "action": "unsubscribe_all"}
        )
        assert response.status_code == 303
        assert _state(preference) == dict.fromkeys(ALL_ON, False)

    def test_it_speaks_the_customer_s_browser_language(self, client: Client, token: str) -> None:
        response = client.get(f"/preferences/{token}", HTTP_ACCEPT_LANGUAGE="fr")
        assert '<html lang="fr">' in response.content.decode()


class TestJson:
    def test_it_reads_the_preferences(
        self, client: Client, token: str, django_assert_max_num_queries: Any
    ) -> None:
        # 1: the preference with its company (the token's MAC is checked without a query).
        with django_assert_max_num_queries(1):
            response = client.get(f"/preferences/{token}.json")
        assert response.status_code == 200
        assert response.json() == ALL_ON
        assert response["Cache-Control"] == "no-store"

    def test_it_writes_with_a_bounded_number_of_queries(
        self, client: Client, token: str, django_assert_max_num_queries: Any
    ) -> None:
        # The preference with its company; SAVEPOINT; SELECT ... FOR UPDATE; UPDATE; the audit
        # row; the company's webhook subscriptions (then cached); RELEASE SAVEPOINT. Anything
        # more would be a query per key or per request part.
        with django_assert_max_num_queries(7):
            response = _patch(client, token, {"documents": False, "marketing": True})
        assert response.status_code == 200

    def test_it_updates_only_the_given_keys(
        self, client: Client, preference: EmailPreference, token: str
    ) -> None:
        response = _patch(client, token, {"reminders": False, "marketing": True})
        assert response.status_code == 200
        assert response.json() == {"documents": True, "reminders": False, "marketing": True}
        assert _state(preference) == response.json()

    @pytest.mark.parametrize(
        ("body", "code"),
        [
            ({"documents": False, "admin": True}, "unknown_field"),
            ({"email": "x@example.com"}, "unknown_field"),
            ({"documents": "true"}, "invalid"),
            ({"documents": "false"}, "invalid"),
            ({"documents": None}, "invalid"),
            ({"documents": 0}, "invalid"),
            ({"documents": 1}, "invalid"),
            ({"documents": {"value": False}}, "invalid"),
            ({"documents": [False]}, "invalid"),
            ({"preferences": {"documents": False}}, "unknown_field"),
            ([{"documents": False}], "invalid"),
            ("false", "invalid"),
            ("null", "invalid"),
            ('{"documents": false', "invalid"),
            ('{"documents": false, "documents": true}', "invalid"),
            ('{"documents": NaN}', "invalid"),
            (b'{"documents": \xff}', "invalid"),
            ("", "invalid"),
            ('{"documents": false, "pad": "' + "x" * 5000 + '"}', "too_large"),
        ],
    )
    def test_it_refuses_anything_but_known_boolean_keys(
        self, client: Client, preference: EmailPreference, token: str, body: Any, code: str
    ) -> None:
        response = _patch(client, token, body)
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == code
        assert set(error) == {"code", "message", "field"}
        assert _state(preference) == ALL_ON

    def test_it_refuses_a_huge_body_without_reading_it(
        self, client: Client, preference: EmailPreference, token: str
    ) -> None:
        # Larger than DATA_UPLOAD_MAX_MEMORY_SIZE: still our 400 with the error shape (not a
        # 413 page or a 500), and only the first kilobyte is read.
        body = '{"documents": false, "pad": "' + "x" * 3_000_000 + '"}'
        response = _patch(client, token, body)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "too_large"
        assert _state(preference) == ALL_ON

    def test_it_refuses_other_content_types(
        self, client: Client, preference: EmailPreference, token: str
    ) -> None:
        response = _patch(client, token, '{"documents": false}', content_type="text/plain")
        assert response.status_code == 400
        assert _state(preference) == ALL_ON

    @pytest.mark.parametrize("method", ["post", "put", "delete"])
    def test_it_allows_only_get_and_patch(
        self, client: Client, preference: EmailPreference, token: str, method: str
    ) -> None:
        response = getattr(client, method)(
            f"/preferences/{token}.json", '{"documents": false}', content_type="application/json"
        )
        assert response.status_code == 405
        assert response.json()["error"]["code"] == "method_not_allowed"
        assert _state(preference) == ALL_ON

    def test_it_needs_no_cookie_and_no_csrf_token(
        self, preference: EmailPreference, token: str
    ) -> None:
        client = Client(enforce_csrf_checks=True)
        response = _patch(client, token, {"documents": False})
        assert response.status_code == 200
        assert _state(preference)["documents"] is False

    @pytest.mark.usefixtures("frozen_rate_window")
    def test_it_rate_limits_per_ip(
        self, client: Client, preference: EmailPreference, token: str
    ) -> None:
        for _ in range(60):
            assert client.get(f"/preferences/{token}.json").status_code == 200
        limited = _patch(client, token, {"documents": False})
        assert limited.status_code == 429
        assert limited.json()["error"]["code"] == "rate_limited"
        assert limited["Retry-After"] == "60"
        assert _state(preference) == ALL_ON
        # Another address is counted on its own.
        other = client.get(f"/preferences/{token}.json", REMOTE_ADDR="10.0.0.9")
        assert other.status_code == 200

    @pytest.mark.usefixtures("frozen_rate_window")
    def test_it_counts_the_page_and_the_json_together(self, client: Client, token: str) -> None:
        for _ in range(60):
            client.get(f"/preferences/{token}")
        assert client.get(f"/preferences/{token}.json").status_code == 429


class TestOneClickUnsubscribe:
    def test_it_turns_off_the_category_of_the_email(
        self, preference: EmailPreference, token: str
    ) -> None:
        # RFC 8058: a POST with this body, no cookies, no CSRF token.
        client = Client(enforce_csrf_checks=True)
        response = client.post(
            f"/unsubscribe/{token}?c=reminders",
            "List-Unsubscribe=One-Click",
            content_type="application/x-www-form-urlencoded",
        )
        assert response.status_code == 200  # no redirect
        assert "Set-Cookie" not in response
        assert not response.cookies
        assert _state(preference) == {"documents": True, "reminders": False, "marketing": False}
        assert "no longer receive" in response.content.decode()
        event = AuditEvent.objects.get(action="email_preferences.updated")
        assert event.data["source"] == "one_click"

    def test_it_turns_off_everything_without_a_category(
        self, client: Client, preference: EmailPreference, token: str
    ) -> None:
        assert client.post(f"/unsubscribe/{token}").status_code == 200
        assert _state(preference) == dict.fromkeys(ALL_ON, False)

    def test_it_refuses_an_unknown_category(
        self, client: Client, preference: EmailPreference, token: str
    ) -> None:
        assert client.post(f"/unsubscribe/{token}?c=billing").status_code == 400
        assert _state(preference) == ALL_ON

    def test_it_is_idempotent(
        self, client: Client, preference: EmailPreference, token: str
    ) -> None:
        for _ in range(2):
            assert client.post(f"/unsubscribe/{token}?c=documents").status_code == 200
        assert _state(preference)["documents"] is False
        assert AuditEvent.objects.filter(action="email_preferences.updated").count() == 1


class TestGetChangesNothing:
    def test_it_only_renders_on_get_of_every_emailed_link(
        self, client: Client, preference: EmailPreference, token: str
    ) -> None:
        # What a mail scanner does: open every link in the email.
        for url in (
            f"/unsubscribe/{token}?c=documents",
            f"/unsubscribe/{token}",
            f"/preferences/{token}",
            f"/preferences/{token}.json",
        ):
            response = client.get(url)
            assert response.status_code == 200, url
            client.head(url)
        assert _state(preference) == ALL_ON
        assert not AuditEvent.objects.filter(action="email_preferences.updated").exists()

    def test_it_offers_a_confirmation_button_on_get(self, client: Client, token: str) -> None:
        html = client.get(f"/unsubscribe/{token}?c=documents").content.decode()
        assert 'method="post"' in html
        assert f'action="/unsubscribe/{token}?c=documents"' in html


class TestCacheOutage:
    def test_it_still_unsubscribes_when_the_rate_limit_store_is_down(
        self, settings: Any, preference: EmailPreference, token: str
    ) -> None:
        # Nothing listens on port 1: every cache call raises a connection error.
        settings.CACHES = {
            "default": {
                "BACKEND": "django_redis.cache.RedisCache",
                "LOCATION": "redis://127.0.0.1:1/0",
                "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
            }
        }
        response = Client().post(f"/unsubscribe/{token}?c=marketing")
        assert response.status_code == 200
        assert Client().get(f"/preferences/{token}.json").status_code == 200
        assert _state(preference) == ALL_ON | {"marketing": False}


class TestMailtoUnsubscribe:
    def _pipe(self, monkeypatch: pytest.MonkeyPatch, raw: bytes) -> str:
        import io
        import sys

        from django.core.management import call_command

        stdin = io.TextIOWrapper(io.BytesIO(raw))
        monkeypatch.setattr(sys, "stdin", stdin)
        out = io.StringIO()
        call_command("unsubscribe_from_email", stdout=out)
        return out.getvalue()

    def test_it_applies_the_subject_of_the_mailto_link(
        self, monkeypatch: pytest.MonkeyPatch, preference: EmailPreference, token: str
    ) -> None:
        raw = (
            b"From: ada@example.com\r\nTo: billing@localhost\r\n"
            b"Subject: Re: unsubscribe reminders " + token.encode() + b"\r\n\r\nplease\r\n"
        )
        assert "unsubscribed: ada@example.com" in self._pipe(monkeypatch, raw)
        assert _state(preference) == ALL_ON | {"reminders": False}

    @pytest.mark.parametrize(
        "subject",
        ["unsubscribe reminders " + "0" * 32 + "A" * 22, "unsubscribe billing {token}", "hello"],
    )
    def test_it_ignores_anything_else(
        self,
        monkeypatch: pytest.MonkeyPatch,
        preference: EmailPreference,
        token: str,
        subject: str,
    ) -> None:
        raw = f"Subject: {subject.format(token=token)}\r\n\r\n".encode()
        assert "ignored" in self._pipe(monkeypatch, raw)
        assert _state(preference) == ALL_ON
