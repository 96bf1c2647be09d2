"""The customer's account in headless Chromium: every tab readable at 360 px and on a desktop
without CSP violations or serious axe-core findings; filtering by keyboard with the filter in
the URL (the back button returns to the previous list); the CSV download; the ZIP download
with its progress on the button. Screenshots in test-artifacts/."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from invoices import services
from invoices.models import Company
from invoices.timezones import company_today
from payments.services import payment_record_offline, stripe_connection_save
from tests import factories
from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.test_pages_browser import _axe_violations, _no_horizontal_scroll, _open

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TABS = ("", "/invoices", "/credit-notes", "/payments", "/statement")


@pytest.fixture
def account(transactional_db: Any) -> dict[str, Any]:
    company: Company = factories.make_company(
        slug="acme", name="Acme Studio GmbH", plan="pro", time_zone="Europe/Berlin"
    )
    stripe_connection_save(company=company, secret_key="sk_test_acct", webhook_secret="whsec_a")
    customer = factories.make_customer(
        company, name="Ada Lovelace", email="ada@example.com", city="London", country="GB"
    )
    today = company_today(company)
    numbers = {}
    for key, days, amount, currency in (
        ("recent", 2, 123456, "eur"),
        ("late", 50, 20000, "eur"),
        ("older", 120, 9900, "usd"),
        ("settled", 20, 5000, "eur"),
    ):
        invoice = factories.make_invoice(
            company,
            customer,
            currency=currency,
            lines=[("Consulting", "1", amount, "0")],
            issue_date=today - dt.timedelta(days=days),
        )
        numbers[key] = invoice
    payment_record_offline(invoice=numbers["settled"], amount=5000, method="bank_transfer")
    payment_record_offline(invoice=numbers["late"], amount=5000, method="cash")
    services.credit_note_create(company=company, customer=customer, currency="eur", amount=2500)
    return {"base": f"/portal/{factories.portal_token(customer)}", "invoices": numbers}


def test_every_tab_reads_well_on_phone_and_desktop(
    live_server: Any, page: Any, browser: Any, account: dict[str, Any], screenshot: Any
) -> None:
    for tab in TABS:
        url = f"{live_server.url}{account['base']}{tab}?lang=en"
        for label, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
            csp_errors = _open(page, url, viewport)
            assert page.get_by_role("navigation", name="Your account").is_visible()
            _no_horizontal_scroll(page)
            screenshot(page, f"{tab.strip('/') or 'home'}-{label}")
            assert csp_errors == [], (tab, csp_errors)
            violations = _axe_violations(browser, url, viewport)
            assert violations == [], json.dumps(violations, indent=1)[:3000]
    # The error state too (a 400 is still a page).
    url = f"{live_server.url}{account['base']}/invoices?per_page=7"
    context = browser.new_context(viewport=PHONE, bypass_csp=True, locale="en-US")
    error_page = context.new_page()
    assert error_page.goto(url).status == 400
    assert error_page.get_by_role("alert").is_visible()
    context.close()


def test_it_filters_by_keyboard_with_the_filter_in_the_url(
    live_server: Any, page: Any, account: dict[str, Any], screenshot: Any
) -> None:
    invoices = account["invoices"]
    _open(page, f"{live_server.url}{account['base']}/invoices?lang=en", PHONE)
    rows = page.locator("[data-testid=invoice-list] tbody tr")
    assert rows.count() == 4
    # Keyboard only: the skip link, then the tabs, then the filter form.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.locator("#f-status").focus()
    page.locator("#f-status").select_option("paid")
    # Through the date fields (each has day, month and year parts) to the number search.
    for _step in range(12):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "f-q":
            break
    assert page.evaluate("document.activeElement.id") == "f-q"
    page.keyboard.type(invoices["settled"].number[-3:])
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "status=paid" in page.url and "q=" in page.url
    assert rows.count() == 1
    assert invoices["settled"].number in rows.first.inner_text()
    screenshot(page, "filtered-phone")
    page.go_back()
    assert rows.count() == 4
    # Sorting from the column headers keeps the other choices.
    _open(page, f"{live_server.url}{account['base']}/invoices?status=open&lang=en", DESKTOP)
    with page.expect_navigation():
        page.get_by_role("link", name="Amount due").click()
    assert "sort=amount_due" in page.url and "status=open" in page.url
    assert invoices["recent"].number in rows.first.inner_text()


def test_it_downloads_the_csv_and_the_zip_with_progress(
    live_server: Any, page: Any, account: dict[str, Any], tmp_path: Path
) -> None:
    invoices = account["invoices"]
    _open(page, f"{live_server.url}{account['base']}/invoices?status=open&lang=en", DESKTOP)
    with page.expect_download() as csv_download:
        page.get_by_role("link", name="Download CSV").click()
    csv_path = tmp_path / "invoices.csv"
    csv_download.value.save_as(csv_path)
    lines = csv_path.read_bytes().decode("utf-8-sig").splitlines()
    assert lines[0] == "number,issue_date,due_date,status,currency,total,amount_paid,amount_due"
    assert len(lines) == 4  # the three open invoices of the filter

    # Record what the button says while the ZIP is made and downloaded.
    page.evaluate(
        """() => {
          window.zipLabels = [];
          const button = document.querySelector('[data-zip-download]');
          new MutationObserver(() => window.zipLabels.push(button.textContent))
            .observe(button, {childList: true, characterData: true, subtree: true});
        }"""
    )
    button = page.get_by_role("link", name="Download PDFs (ZIP)")
    button.focus()
    with page.expect_download() as zip_download:
        page.keyboard.press("Enter")
    zip_path = tmp_path / "invoices.zip"
    zip_download.value.save_as(zip_path)
    names = zipfile.ZipFile(io.BytesIO(zip_path.read_bytes())).namelist()
    assert sorted(names) == sorted(f"{invoices[k].number}.pdf" for k in ("recent", "late", "older"))
    labels = page.evaluate("window.zipLabels")
    assert "Preparing the ZIP…" in labels
    assert any(label.startswith("Downloading") for label in labels), labels
    page.wait_for_function(
        "() => document.querySelector('[data-zip-download]').textContent.includes('ZIP')"
        " && !document.querySelector('[data-zip-download]').hasAttribute('aria-busy')"
    )
