"""The billing details form and the documents page in headless Chromium: filled in and saved
with the keyboard, the error state, no horizontal scrolling at 360 px, no CSP violation, and
axe-core finds no serious or critical problem; screenshots in test-artifacts/."""

from __future__ import annotations

import json
from typing import Any

import pytest

from invoices import services
from invoices.models import Company, Customer
from portal.documents.models import Document, DocumentAudience, DocumentVisibility
from tests import factories
from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.test_pages_browser import _axe_violations, _no_horizontal_scroll, _open

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def account(transactional_db: Any, settings: Any, tmp_path: Any) -> dict[str, Any]:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    company: Company = factories.make_company(slug="acme", name="Acme Studio GmbH", plan="pro")
    services.company_update(
        company=company,
        changes={
            "portal_editable_fields": ["name", "address", "phone", "tax_id", "buyer_reference"]
        },
    )
    customer = factories.make_customer(
        company, name="Ada Lovelace", email="ada@example.com", city="London", country="GB"
    )
    return {"company": company, "customer": customer, "token": factories.portal_token(customer)}


def test_it_fills_and_saves_the_billing_form_with_the_keyboard(
    live_server: Any, page: Any, browser: Any, account: dict[str, Any], screenshot: Any
) -> None:
    customer: Customer = account["customer"]
    url = f"{live_server.url}/portal/{account['token']}/billing-details?lang=en"
    for label, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        csp_errors = _open(page, url, viewport)
        _no_horizontal_scroll(page)
        screenshot(page, f"billing-{label}")
        assert csp_errors == []
        violations = _axe_violations(browser, url, viewport)
        assert violations == [], json.dumps(violations, indent=1)[:3000]

    _open(page, url, PHONE)
    # The error state: a tax id whose check digit fails.
    page.get_by_label("Tax id").fill("DE136695977")
    page.get_by_label("Country").select_option("DE")
    page.get_by_role("button", name="Save billing details").click()
    alert = page.get_by_test_id("billing-errors")
    assert alert.is_visible()
    assert "check digit" in alert.inner_text()
    assert page.get_by_label("Tax id").get_attribute("aria-invalid") == "true"
    assert page.get_by_label("Tax id").input_value() == "DE136695977"
    _no_horizontal_scroll(page)
    screenshot(page, "billing-error-phone")
    error_url = page.url
    customer.refresh_from_db()
    assert customer.tax_id == ""

    # The error summary's link takes the keyboard to the field.
    alert.get_by_role("link").first.focus()
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "billing-tax_id"

    # Fill and save with the keyboard only.
    page.get_by_label("Name").focus()
    page.keyboard.press("Control+A")
    page.keyboard.type("Ada Lovelace Ltd")
    page.get_by_label("Tax id").focus()
    page.keyboard.press("Control+A")
    page.keyboard.type("DE136695976")
    page.get_by_label("Phone").focus()
    page.keyboard.type("+49 30 1234567")
    page.keyboard.press("Enter")  # submits the form
    page.get_by_test_id("billing-saved").wait_for()
    screenshot(page, "billing-saved-phone")
    customer.refresh_from_db()
    assert (customer.name, customer.tax_id, customer.phone, customer.country) == (
        "Ada Lovelace Ltd",
        "DE136695976",
        "+49 30 1234567",
        "DE",
    )
    assert page.get_by_label("Name").input_value() == "Ada Lovelace Ltd"
    # The error page itself is accessible too (a 400 the browser renders).
    assert error_url.endswith("billing-details?lang=en")


def test_the_error_state_passes_axe(
    live_server: Any, browser: Any, account: dict[str, Any]
) -> None:
    context = browser.new_context(viewport=PHONE, bypass_csp=True, locale="en-US")
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/portal/{account['token']}/billing-details?lang=en")
        page.get_by_label("Name").fill("")
        page.get_by_label("Phone").fill("call me")
        page.get_by_role("button", name="Save billing details").click()
        page.get_by_test_id("billing-errors").wait_for()
        from tests.browser.test_pages_browser import AXE

        page.add_script_tag(path=str(AXE))
        result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    finally:
        context.close()
    serious = [v for v in result["violations"] if v["impact"] in ("serious", "critical")]
    assert serious == [], json.dumps(serious, indent=1)[:3000]


def test_it_lists_documents_on_phone_and_desktop(
    live_server: Any, page: Any, browser: Any, account: dict[str, Any], screenshot: Any
) -> None:
    from django.core.files.base import ContentFile

    from portal.documents.services import document_save

    company, customer = account["company"], account["customer"]
    invoice = factories.make_invoice(company, customer)
    for title, audience, target in (
        ("Framework contract 2026 with a rather long title for small screens", "customer", None),
        ("Price list", DocumentAudience.ALL_CUSTOMERS, None),
        ("Delivery note", DocumentAudience.INVOICE, invoice),
    ):
        upload = ContentFile(b"%PDF-1.4\n%%EOF\n", name="x.pdf")
        document = Document(
            company=company,
            title=title,
            audience=audience,
            customer=customer if audience == "customer" else None,
            invoice=target,
            visibility=DocumentVisibility.CUSTOMERS,
            file=upload,
        )
        document_save(document=document, upload=upload, changed=[])
    url = f"{live_server.url}/portal/{account['token']}/documents?lang=en"
    for label, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        csp_errors = _open(page, url, viewport)
        assert page.get_by_role("link", name="Price list").is_visible()
        _no_horizontal_scroll(page)
        screenshot(page, f"documents-{label}")
        assert csp_errors == []
        violations = _axe_violations(browser, url, viewport)
        assert violations == [], json.dumps(violations, indent=1)[:3000]
    with page.expect_download() as download:
        page.get_by_role("link", name="Price list").click()
    assert download.value.suggested_filename == "Price_list.pdf"


def test_the_billing_email_is_confirmed_without_javascript(
    live_server: Any, browser: Any, settings: Any, account: dict[str, Any]
) -> None:
    """Pages sent with ``Referrer-Policy: no-referrer`` post ``Origin: null``: neither form
    may be refused by a CSRF check, and both work with JavaScript off."""
    from django.core import mail

    settings.PUBLIC_BASE_URL = live_server.url
    company: Company = account["company"]
    services.company_update(company=company, changes={"portal_editable_fields": ["billing_email"]})
    context = browser.new_context(java_script_enabled=False, locale="en-US")
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/portal/{account['token']}/billing-details?lang=en")
        page.get_by_label("Billing email").fill("accounts@ada.example")
        page.get_by_role("button", name="Save billing details").click()
        assert "We sent a confirmation link to accounts@ada.example" in page.content()
        [link] = [
            word
            for message in mail.outbox
            if "accounts@ada.example" in message.to
            for word in message.body.split()
            if "/portal/billing-email/" in word
        ]
        page.goto(link)
        page.get_by_role("button", name="Confirm this address").click()
        assert page.get_by_test_id("billing-email-confirmed").is_visible()
    finally:
        context.close()
    customer: Customer = account["customer"]
    customer.refresh_from_db()
    assert customer.email == "accounts@ada.example"
