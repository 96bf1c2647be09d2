"""The customer pages in headless Chromium: amounts shown, no horizontal scrolling at 360 px,
no CSP violation, axe-core finds no serious or critical problem; screenshots in
test-artifacts/."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from invoices.models import Company, CreditNote
from tests import factories
from tests.browser.conftest import DESKTOP, PHONE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


def _axe_violations(browser: Any, url: str, viewport: dict[str, int]) -> list[dict[str, Any]]:
    """Serious and critical axe-core findings. axe is injected as a script, which our strict CSP
    rightly refuses, so this one context bypasses CSP (the other checks run with it on)."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` (make pytest does)")
    context = browser.new_context(viewport=viewport, bypass_csp=True, locale="en-US")
    try:
        page = context.new_page()
        page.goto(url)
        page.add_script_tag(path=str(AXE))
        result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    finally:
        context.close()
    assert result["testEngine"]["name"] == "axe-core"  # it really ran
    return [v for v in result["violations"] if v["impact"] in ("serious", "critical")]


def _open(page: Any, url: str, viewport: dict[str, int]) -> list[str]:
    """Open ``url`` at ``viewport``; returns the CSP violations the browser reported."""
    violations: list[str] = []
    page.on(
        "console",
        lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    page.set_viewport_size(viewport)
    response = page.goto(url)
    assert response is not None and response.status == 200
    return violations


def _no_horizontal_scroll(page: Any) -> None:
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"page is {widths[0]}px wide in a {widths[1]}px viewport"


@pytest.fixture
def seeded(transactional_db: Any) -> dict[str, Any]:
    company: Company = factories.make_company(slug="acme", name="Acme Studio GmbH", plan="pro")
    company.address = "Hauptstraße 1\n10115 Berlin"
    company.save(update_fields=["address"])
    customer = factories.make_customer(
        company,
        name="Ada Lovelace",
        email="ada@example.com",
        address_line1="12 St James's Square",
        city="London",
        country="GB",
    )
    invoice = factories.make_invoice(
        company,
        customer,
        currency="eur",
        lines=[
            ("Brand strategy workshop with the whole leadership team", "2", 150000, "19"),
            ("Logo design", "1", 98000, "19"),
            ("Hosting (12 months)", "12", 1250, "0"),
        ],
        notes="Payable within 30 days. Thank you!",
    )
    today = timezone.localdate()
    for days in (40, 80, 120):
        factories.make_invoice(
            company, customer, currency="eur", issue_date=today - dt.timedelta(days=days)
        )
    CreditNote.objects.create(
        company=company,
        customer=customer,
        number="CN-1",
        status="issued",
        currency="eur",
        amount=5000,
    )
    return {
        "invoice": invoice,
        "invoice_url": f"/invoice/{factories.share_token(invoice)}",
        "portal_url": f"/portal/{factories.portal_token(customer)}",
    }


def test_it_shows_the_invoice_on_phone_and_desktop(
    live_server: Any, page: Any, browser: Any, seeded: dict[str, Any], screenshot: Any
) -> None:
    url = live_server.url + seeded["invoice_url"]
    for label, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        csp_errors = _open(page, url + "?lang=en", viewport)
        # 2 x 1,500.00 + 980.00 + 12 x 12.50 = 4,130.00 net; 19 % of 3,980.00 = 756.20 tax.
        assert page.get_by_test_id("amount-due").inner_text() == "€4,886.20"
        assert page.get_by_test_id("summary-amount-due").inner_text() == "€4,886.20"
        assert page.get_by_text("Logo design").is_visible()
        assert page.get_by_role("link", name="Download PDF").is_visible()
        _no_horizontal_scroll(page)
        screenshot(page, label)
        assert csp_errors == []
        violations = _axe_violations(browser, url, viewport)
        assert violations == [], json.dumps(violations, indent=1)[:3000]


def test_it_switches_to_the_pdf_preview(
    live_server: Any, page: Any, seeded: dict[str, Any]
) -> None:
    _open(page, live_server.url + seeded["invoice_url"], DESKTOP)
    frame = page.locator(".pdf-frame")
    assert frame.get_attribute("src") is None  # not loaded until asked for
    with page.expect_response(lambda r: "/pdf?inline=1" in r.url, timeout=30_000) as pdf:
        page.get_by_role("link", name="PDF preview").click()
    assert pdf.value.status == 200
    assert pdf.value.headers["content-type"] == "application/pdf"
    assert frame.is_visible()
    # The PDF speaks the page's language (?lang=), so a ?lang= override carries over.
    assert "/pdf?inline=1&lang=en" in frame.get_attribute("src", timeout=2000)
    assert not page.locator("#live").is_visible()
    page.get_by_role("link", name="Live view").click()
    assert page.locator("#live").is_visible()


def test_it_shows_the_portal_on_phone_and_desktop(
    live_server: Any, page: Any, browser: Any, seeded: dict[str, Any], screenshot: Any
) -> None:
    url = live_server.url + seeded["portal_url"]
    for label, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        csp_errors = _open(page, url, viewport)
        # 4,886.20 + three 10.00 invoices, all open.
        assert page.get_by_test_id("outstanding").inner_text() == "€4,916.20"
        assert page.get_by_test_id("credit").inner_text() == "€50.00"
        assert page.get_by_test_id("overdue-flag").is_visible()
        assert page.locator(".invoice-list tbody tr").count() == 4
        _no_horizontal_scroll(page)
        screenshot(page, label)
        assert csp_errors == []
        violations = _axe_violations(browser, url, viewport)
        assert violations == [], json.dumps(violations, indent=1)[:3000]
    page.get_by_role("link", name=seeded["invoice"].number).click()
    assert "source=portal" in page.url
    assert page.get_by_test_id("amount-due").inner_text() == "€4,886.20"


def test_it_shows_the_not_found_page_accessibly(
    live_server: Any, page: Any, browser: Any, screenshot: Any, transactional_db: Any
) -> None:
    url = live_server.url + "/invoice/does-not-exist"
    page.set_viewport_size(PHONE)
    response = page.goto(url)
    assert response is not None and response.status == 404
    assert page.get_by_role("heading", name="Invoice not found").is_visible()
    _no_horizontal_scroll(page)
    screenshot(page, "phone")
    context = browser.new_context(viewport=PHONE, bypass_csp=True)
    try:
        axe_page = context.new_page()
        axe_page.goto(url)
        axe_page.add_script_tag(path=str(AXE))
        result = axe_page.evaluate("async () => await axe.run()")
    finally:
        context.close()
    assert result["testEngine"]["name"] == "axe-core"
    assert [v["id"] for v in result["violations"] if v["impact"] in ("serious", "critical")] == []


def test_it_reads_well_in_german_on_a_phone(
    live_server: Any, page: Any, seeded: dict[str, Any], screenshot: Any
) -> None:
    for url in (seeded["invoice_url"], seeded["portal_url"]):
        _open(page, live_server.url + url + "?lang=de", PHONE)
        assert page.locator("html").get_attribute("lang") == "de"
        _no_horizontal_scroll(page)
        screenshot(page, "invoice" if url.startswith("/invoice") else "portal")
    assert page.get_by_test_id("outstanding").inner_text() == "4.916,20\xa0€"
    _open(page, live_server.url + seeded["invoice_url"] + "?lang=de", PHONE)
    assert page.get_by_test_id("amount-due").inner_text() == "4.886,20\xa0€"
    assert page.get_by_role("link", name="PDF herunterladen").is_visible()


def test_it_generates_copies_and_revokes_a_link_in_the_admin(
    live_server: Any, browser: Any, seeded: dict[str, Any], screenshot: Any
) -> None:
    from invoices.models import Company
    from invoices.models.company import Role

    company = Company.objects.get(slug="acme")
    staff = factories.make_staff(company, Role.MANAGER, username="linkadmin")
    invoice = factories.make_invoice(company, currency="eur")
    context = browser.new_context(viewport=DESKTOP, locale="en-US")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    try:
        page = context.new_page()
        page.goto(live_server.url + "/admin/login/")
        page.fill("#id_username", staff.username)
        page.fill("#id_password", "pw-for-tests-only")
        page.click("input[type=submit]")
        page.goto(f"{live_server.url}/admin/invoices/invoice/{invoice.pk}/change/")
        page.get_by_role("button", name="Generate link").click()
        url_box = page.get_by_label("Link URL")
        url = url_box.input_value()
        assert "/invoice/" in url
        page.get_by_role("button", name="Copy").click()
        assert page.evaluate("navigator.clipboard.readText()") == url
        screenshot(page, "admin")
        token = url.rsplit("/", 1)[1]
        assert page.request.get(f"{live_server.url}/invoice/{token}").status == 200
        # Revoking asks first; dismissing keeps the link live, accepting revokes it.
        page.once("dialog", lambda dialog: dialog.dismiss())
        page.get_by_role("button", name="Revoke").click()
        assert page.request.get(f"{live_server.url}/invoice/{token}").status == 200
        messages: list[str] = []
        page.once("dialog", lambda dialog: (messages.append(dialog.message), dialog.accept()))
        page.get_by_role("button", name="Revoke").click()
        page.get_by_role("button", name="Generate link").wait_for(state="visible")
        assert messages == ["Revoke this link? It stops opening at once."]
        assert page.get_by_text("Share link revoked").is_visible()
        assert page.request.get(f"{live_server.url}/invoice/{token}").status == 404
    finally:
        context.close()
