"""Each write mode lets exactly the right writers post ."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from django.utils import timezone

from invoices.models import Company, Customer, Invoice
from portal.comments.models import Comment
from portal.comments.selectors import SESSION_COOKIE
from tests import factories
from tests.comments.conftest import emailed_code, set_mode


def invoice_in_mode(mode: str, company: Company, customer: Customer | None = None) -> Invoice:
    invoice = factories.make_invoice(company, customer)
    set_mode(invoice, mode)
    return invoice


def post_json(client: Any, url: str, payload: dict[str, Any] | None = None) -> Any:
    return client.post(
        url,
        data=json.dumps(payload or {}),
        content_type="application/json",
        HTTP_ACCEPT="application/json",
    )


def comment(client: Any, token: str, **fields: str) -> Any:
    payload = {"name": "Ada", "email": "ada@example.com", "body": "Hello"} | fields
    return post_json(client, f"/invoice/{token}/comments", payload)


def verify(client: Any, token: str, mailoutbox: list[Any], on_commit: Any) -> Any:
    assert on_commit(post_json, client, f"/invoice/{token}/comments/code").status_code == 200
    return post_json(
        client, f"/invoice/{token}/comments/verify", {"code": emailed_code(mailoutbox)}
    )


# link -------------------------------------------------------------------------------------


def test_it_lets_a_link_holder_post_with_name_and_email(client: Any, token: str) -> None:
    response = comment(client, token, body="Is the VAT right?")
    assert response.status_code == 201
    data = response.json()["comment"]
    assert data["id"] == 1
    assert data["author"] == "Ada"
    assert data["role"] == "customer"
    assert "email" not in data  # writers' addresses never reach the page


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": ""}, "name"),
        ({"email": "not-an-email"}, "email"),
        # Valid to validate_email (up to 320 characters) but longer than the 254-character
        # column: PostgreSQL raised DataError (a 500) on insert.
        ({"email": "a" * 200 + "@" + "b" * 60 + ".com"}, "email"),
        ({"body": "   "}, "body"),
        ({"body": "x" * 2001}, "body"),
    ],
)
def test_it_refuses_bad_input_with_a_clear_error(
    client: Any, token: str, fields: dict[str, str], field: str
) -> None:
    response = comment(client, token, **fields)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == field
    assert response.json()["error"]["message"]
    assert not Comment.objects.exists()


# "[" * 100_000: the json module raises RecursionError, not ValueError (it was a 500).
@pytest.mark.parametrize("body", ["[1]", "{", "[" * 100_000])
def test_it_refuses_a_non_object_json_body(client: Any, token: str, body: str) -> None:
    response = client.post(f"/invoice/{token}/comments", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


def test_it_accepts_a_plain_form_post_and_redirects_to_the_comment(client: Any, token: str) -> None:
    response = client.post(
        f"/invoice/{token}/comments", {"name": "Ada", "email": "a@example.com", "body": "Hi"}
    )
    assert response.status_code == 303
    assert response["Location"] == f"/invoice/{token}#comment-1"


def test_it_strips_control_characters(client: Any, token: str) -> None:
    response = comment(client, token, body="ab\u202ec\r\nd")
    assert response.status_code == 201
    assert Comment.objects.get().body == "abc\nd"


def test_it_refuses_a_nul_byte_in_the_validation_layer(client: Any, token: str) -> None:
    response = comment(client, token, body="a\x00b")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_input"
    assert not Comment.objects.exists()


# email_code ---------------------------------------------------------------------------------


def test_it_refuses_email_code_mode_without_a_code(
    client: Any, invoice: Invoice, token: str
) -> None:
    set_mode(invoice, "email_code")
    response = comment(client, token)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "verification_required"


def test_it_emails_the_code_to_the_address_on_file_and_lets_the_verified_writer_post(
    client: Any, invoice: Invoice, token: str, mailoutbox: list[Any], on_commit: Any
) -> None:
    set_mode(invoice, "email_code")
    response = verify(client, token, mailoutbox, on_commit)
    assert response.status_code == 200
    assert mailoutbox[-1].to == ["ada@example.com"]
    assert SESSION_COOKIE in response.cookies
    assert response.cookies[SESSION_COOKIE]["httponly"]

    response = comment(client, token, name="", email="attacker@example.com")
    assert response.status_code == 201
    saved = Comment.objects.get()
    # The verified address on file, not the one typed in; the customer's name by default.
    assert saved.author_email == "ada@example.com"
    assert saved.author_name == "Ada Lovelace"
    assert saved.verification == "email_code"


def test_it_refuses_a_wrong_code(
    client: Any, invoice: Invoice, token: str, mailoutbox: list[Any], on_commit: Any
) -> None:
    set_mode(invoice, "email_code")
    on_commit(post_json, client, f"/invoice/{token}/comments/code")
    good = emailed_code(mailoutbox)
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    response = post_json(client, f"/invoice/{token}/comments/verify", {"code": wrong})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "code_invalid"
    assert SESSION_COOKIE not in response.cookies
    assert comment(client, token).status_code == 403


def test_it_refuses_an_expired_code(
    client: Any,
    invoice: Invoice,
    token: str,
    mailoutbox: list[Any],
    monkeypatch: Any,
    on_commit: Any,
) -> None:
    set_mode(invoice, "email_code")
    on_commit(post_json, client, f"/invoice/{token}/comments/code")
    code = emailed_code(mailoutbox)
    later = timezone.now() + dt.timedelta(minutes=10, seconds=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    response = post_json(client, f"/invoice/{token}/comments/verify", {"code": code})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "code_expired"


def test_it_refuses_a_used_code(
    client: Any, invoice: Invoice, token: str, mailoutbox: list[Any], on_commit: Any
) -> None:
    set_mode(invoice, "email_code")
    assert verify(client, token, mailoutbox, on_commit).status_code == 200
    again = post_json(
        client, f"/invoice/{token}/comments/verify", {"code": emailed_code(mailoutbox)}
    )
    assert again.status_code == 400


def test_it_locks_the_code_after_five_wrong_attempts(
    client: Any, invoice: Invoice, token: str, mailoutbox: list[Any], on_commit: Any
) -> None:
    set_mode(invoice, "email_code")
    on_commit(post_json, client, f"/invoice/{token}/comments/code")
    good = emailed_code(mailoutbox)
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    codes = [
        post_json(client, f"/invoice/{token}/comments/verify", {"code": wrong}).json()["error"][
            "code"
        ]
        for _ in range(5)
    ]
    assert codes == ["code_invalid"] * 4 + ["too_many_attempts"]
    # Even the right code no longer works: the guesser used up the code.
    response = post_json(client, f"/invoice/{token}/comments/verify", {"code": good})
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "too_many_attempts"


def test_it_throttles_code_requests(client: Any, invoice: Invoice, token: str) -> None:
    set_mode(invoice, "email_code")
    assert post_json(client, f"/invoice/{token}/comments/code").status_code == 200
    response = post_json(client, f"/invoice/{token}/comments/code")
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"


def test_it_does_not_let_a_code_for_one_invoice_open_another(
    client: Any,
    tenant: Company,
    customer: Customer,
    invoice: Invoice,
    token: str,
    mailoutbox: list[Any],
    on_commit: Any,
) -> None:
    set_mode(invoice, "email_code")
    second = invoice_in_mode("email_code", tenant, customer)
    second_token = factories.share_token(second)
    assert verify(client, token, mailoutbox, on_commit).status_code == 200
    assert comment(client, second_token).status_code == 403
    assert comment(client, token).status_code == 201


# customer_session ---------------------------------------------------------------------------


def test_it_opens_a_customer_session_with_a_code_good_for_all_the_customers_invoices(
    client: Any,
    tenant: Company,
    customer: Customer,
    invoice: Invoice,
    token: str,
    mailoutbox: list[Any],
    on_commit: Any,
) -> None:
    set_mode(invoice, "customer_session")
    assert comment(client, token).json()["error"]["code"] == "session_required"
    assert verify(client, token, mailoutbox, on_commit).status_code == 200
    second = invoice_in_mode("customer_session", tenant, customer)
    assert comment(client, token).status_code == 201
    assert comment(client, factories.share_token(second)).status_code == 201
    # ...and never another customer's invoice.
    stranger = invoice_in_mode("customer_session", tenant)
    assert comment(client, factories.share_token(stranger)).status_code == 403


def test_it_does_not_accept_a_one_invoice_proof_as_a_customer_session(
    client: Any, invoice: Invoice, token: str, mailoutbox: list[Any], on_commit: Any
) -> None:
    set_mode(invoice, "email_code")
    assert verify(client, token, mailoutbox, on_commit).status_code == 200
    set_mode(invoice, "customer_session")
    assert comment(client, token).json()["error"]["code"] == "session_required"


def test_it_opens_a_customer_session_from_an_emailed_sign_in_link_only_on_post(
    client: Any, invoice: Invoice, token: str, mailoutbox: list[Any], on_commit: Any
) -> None:
    set_mode(invoice, "customer_session")
    response = on_commit(post_json, client, f"/invoice/{token}/comments/signin-link")
    assert response.status_code == 200
    link = re.search(r"http://testserver(/invoice/\S+)", mailoutbox[-1].body)
    assert link
    # A mail scanner's GET shows a button and signs nobody in.
    page = client.get(link.group(1))
    assert page.status_code == 200
    assert SESSION_COOKIE not in page.cookies
    assert comment(client, token).status_code == 403

    opened = client.post(link.group(1))
    assert opened.status_code == 303
    assert SESSION_COOKIE in opened.cookies
    assert comment(client, token).status_code == 201
    # One use only.
    other = type(client)()
    assert other.post(link.group(1)).status_code == 400


def test_it_ignores_a_forged_session_cookie(client: Any, invoice: Invoice, token: str) -> None:
    set_mode(invoice, "email_code")
    client.cookies[SESSION_COOKIE] = "0" * 32 + "A" * 22
    assert comment(client, token).status_code == 403


def test_it_answers_not_found_for_a_bad_token(client: Any, token: str) -> None:
    bad = token[:-1] + ("A" if token[-1] != "A" else "B")
    for url in (f"/invoice/{bad}/comments", f"/invoice/{bad}/comments/stream"):
        response = client.get(url)
        assert response.status_code == 404
        assert b"Invoice not found" in response.content
    assert comment(client, bad).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/comments/code",
        "/comments/verify",
        "/comments/signin-link",
        "/comments/totp/enrol",
        "/comments/totp/confirm",
        "/comments/signin/" + "0" * 54,
    ],
)
def test_it_checks_ownership_of_every_comment_endpoint(client: Any, token: str, path: str) -> None:
    bad = token[:-1] + ("A" if token[-1] != "A" else "B")
    response = post_json(client, f"/invoice/{bad}{path}")
    assert response.status_code == 404
    assert b"Invoice not found" in response.content


def test_it_posts_with_a_bounded_number_of_queries(
    client: Any, token: str, django_assert_max_num_queries: Any
) -> None:
    # 1 the invoice by its share link, 2 the invoice row lock, 3 the last comment number,
    # 4 the insert, 5 the needs-attention flag, 6 the audit row; 7-8 the savepoint around the
    # write (tests run inside a transaction); 9 the company's webhook subscriptions (none here,
    # so no event is written; then cached). No authenticator lookup unless the company asks for one.
    with django_assert_max_num_queries(9):
        assert comment(client, token).status_code == 201


def test_it_refuses_an_expired_sign_in_link(
    client: Any,
    invoice: Invoice,
    token: str,
    mailoutbox: list[Any],
    monkeypatch: Any,
    on_commit: Any,
) -> None:
    set_mode(invoice, "customer_session")
    on_commit(post_json, client, f"/invoice/{token}/comments/signin-link")
    link = re.search(r"http://testserver(/invoice/\S+)", mailoutbox[-1].body)
    assert link
    later = timezone.now() + dt.timedelta(minutes=30, seconds=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    opened = client.post(link.group(1))
    assert opened.status_code == 400
    assert SESSION_COOKIE not in opened.cookies
    assert comment(client, token).status_code == 403


@pytest.mark.parametrize(
    ("mode", "lifetime"),
    [("email_code", dt.timedelta(hours=2)), ("customer_session", dt.timedelta(days=14))],
)
def test_it_refuses_an_expired_session(
    client: Any,
    invoice: Invoice,
    token: str,
    mailoutbox: list[Any],
    monkeypatch: Any,
    on_commit: Any,
    mode: str,
    lifetime: dt.timedelta,
) -> None:
    set_mode(invoice, mode)
    assert verify(client, token, mailoutbox, on_commit).status_code == 200
    assert comment(client, token, body="while fresh").status_code == 201
    later = timezone.now() + lifetime + dt.timedelta(seconds=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    refused = comment(client, token, body="too late")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] in {"verification_required", "session_required"}
    assert list(Comment.objects.values_list("body", flat=True)) == ["while fresh"]


def test_it_takes_the_write_mode_from_the_company_unless_the_invoice_sets_its_own(
    client: Any, tenant: Company, invoice: Invoice, token: str
) -> None:
    assert invoice.comment_write_mode == ""  # the company's default
    tenant.comment_write_mode = "email_code"
    tenant.save(update_fields=["comment_write_mode"])
    invoice.refresh_from_db()
    assert comment(client, token).json()["error"]["code"] == "verification_required"
    set_mode(invoice, "link")
    assert comment(client, token).status_code == 201


@pytest.mark.django_db(transaction=True)  # so the email goes out when the request commits
def test_it_answers_a_clear_error_when_the_email_cannot_be_sent(
    client: Any, invoice: Invoice, token: str, monkeypatch: Any
) -> None:
    import smtplib

    from portal.comments import services

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise smtplib.SMTPConnectError(421, "mail server down")

    monkeypatch.setattr(services, "send_mail", refuse)
    set_mode(invoice, "customer_session")
    for path in ("/comments/code", "/comments/signin-link"):
        response = post_json(client, f"/invoice/{token}{path}")
        assert response.status_code == 503, path  # was a 500
        assert response.json()["error"]["code"] == "email_failed"
