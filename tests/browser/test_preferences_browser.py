"""The email preferences page in Chromium: each switch saves at once (script, CSP nonce), and
the page still works as a plain form with JavaScript off."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from invoices.models import Company
from preferences.models import EmailPreference
from preferences.services import email_preference_ensure, email_preference_token

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def preference(tenant: Company) -> EmailPreference:
    return email_preference_ensure(company_id=tenant.pk, email="ada@example.com")


def _url(live_server: Any, preference: EmailPreference) -> str:
    return f"{live_server.url}/preferences/{email_preference_token(preference)}"


def test_it_saves_each_switch_at_once(
    live_server: Any,
    page: Any,
    preference: EmailPreference,
    screenshot: Callable[..., Path],
) -> None:
    csp_errors: list[str] = []
    page.on(
        "console",
        lambda msg: csp_errors.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    page.goto(_url(live_server, preference))
    # The script ran (under the CSP nonce): the save button is hidden.
    assert not page.locator("[data-prefs-save]").is_visible()
    page.get_by_label("Payment reminders").uncheck()
    page.get_by_role("status").filter(has_text="Saved.").wait_for()
    preference.refresh_from_db()
    assert (preference.documents, preference.reminders) == (True, False)

    page.get_by_role("button", name="Unsubscribe from all").click()
    page.get_by_role("status").filter(has_text="Saved.").wait_for()
    assert not page.get_by_label("Documents (invoices, quotes)").is_checked()
    preference.refresh_from_db()
    assert (preference.documents, preference.reminders, preference.marketing) == (
        False,
        False,
        False,
    )
    assert page.url == _url(live_server, preference)  # no navigation: saved in place
    assert csp_errors == []
    screenshot(page, "saved")


def test_it_works_as_a_plain_form_without_javascript(
    live_server: Any, browser: Any, preference: EmailPreference
) -> None:
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(_url(live_server, preference))
        page.get_by_label("News and offers").check()
        page.get_by_role("button", name="Save preferences").click()
        page.get_by_text("Saved.").wait_for()
        assert page.url.endswith("?saved=1")
        preference.refresh_from_db()
        assert preference.marketing is True
        assert page.get_by_label("News and offers").is_checked()
    finally:
        context.close()


def test_it_renders_the_invoice_email_with_working_buttons(
    live_server: Any, page: Any, tenant: Company, screenshot: Callable[..., Path]
) -> None:
    from django.core import mail

    from preferences.emails import invoice_email_queue
    from tests import factories

    invoice = factories.make_invoice(tenant, lines=[("Design work", "3", 4500, "19")])
    invoice_email_queue(invoice=invoice)  # transaction=True: delivered on commit (eager)
    html = mail.outbox[0].alternatives[0][0]
    page.set_viewport_size({"width": 360, "height": 740})
    page.set_content(html.replace("http://testserver", live_server.url))
    screenshot(page, "email-phone")
    view = page.get_by_role("link", name="View invoice")
    assert view.is_visible()
    page.goto(view.get_attribute("href"))
    assert "source=email" in page.url
    assert page.get_by_role("heading").first.is_visible()
    assert "not found" not in page.title().lower()
