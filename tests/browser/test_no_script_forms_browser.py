"""Every customer form posted by Chromium with JavaScript off, from pages that send
``Referrer-Policy: no-referrer`` (so the browser posts ``Origin: null``): none may be refused
by a CSRF check (403), each does what it says."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core import mail

from invoices.models import Company
from portal.comments.models import Comment
from portal.comments.services import signin_link_request
from preferences.models import EmailPreference
from preferences.services import email_preference_ensure, email_preference_token
from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def no_script(browser: Any) -> Iterator[Any]:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    yield page
    context.close()


def _statuses(page: Any) -> list[int]:
    seen: list[int] = []
    page.on("response", lambda response: seen.append(response.status))
    return seen


def test_it_posts_a_comment_without_javascript(
    live_server: Any, no_script: Any, tenant: Company
) -> None:
    invoice = factories.make_invoice(tenant)
    token = factories.share_token(invoice)
    statuses = _statuses(no_script)
    response = no_script.goto(f"{live_server.url}/invoice/{token}")
    assert response.headers["referrer-policy"] == "no-referrer"
    no_script.fill("#comment-name", "Ada")
    no_script.fill("#comment-email", "ada@example.com")
    no_script.fill("#comment-body", "Is the VAT right?")
    no_script.locator("form.comment-form button[type=submit]").click()
    no_script.wait_for_url(f"**/invoice/{token}#comment-1")
    assert 403 not in statuses
    assert Comment.objects.get(invoice=invoice).body == "Is the VAT right?"


def test_it_opens_the_emailed_sign_in_link_without_javascript(
    live_server: Any, no_script: Any, tenant: Company
) -> None:
    invoice = factories.make_invoice(tenant)
    token = factories.share_token(invoice)
    signin_link_request(invoice=invoice, page_token=token)
    link = next(line for line in mail.outbox[-1].body.split() if "/comments/signin/" in line)
    path = link[link.index("/invoice/") :]
    statuses = _statuses(no_script)
    no_script.goto(live_server.url + path)
    no_script.get_by_role("button", name="Sign in on this device").click()
    no_script.wait_for_url(f"**/invoice/{token}#comments")
    assert 403 not in statuses
    cookies = {cookie["name"] for cookie in no_script.context.cookies()}
    assert any("session" in name or "comment" in name for name in cookies), cookies


def test_it_saves_preferences_without_javascript(
    live_server: Any, no_script: Any, tenant: Company
) -> None:
    preference = email_preference_ensure(company_id=tenant.pk, email="ada@example.com")
    statuses = _statuses(no_script)
    no_script.goto(f"{live_server.url}/preferences/{email_preference_token(preference)}")
    no_script.get_by_label("Payment reminders").uncheck()
    no_script.locator("[data-prefs-save]").click()
    no_script.wait_for_load_state()
    assert 403 not in statuses
    preference = EmailPreference.objects.get(pk=preference.pk)
    assert preference.reminders is False
