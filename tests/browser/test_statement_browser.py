"""The statement page in headless Chromium: rows shown, no horizontal scrolling at 360 px, no
CSP violation, axe-core finds no serious or critical problem."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.utils import timezone

from invoices import services
from invoices.models import Company
from payments.services import payment_record_offline
from tests import factories
from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.test_pages_browser import _axe_violations, _no_horizontal_scroll, _open

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def statement_url(transactional_db: Any) -> str:
    company: Company = factories.make_company(slug="acme", name="Acme Studio GmbH", plan="pro")
    customer = factories.make_customer(
        company, name="Ada Lovelace", email="ada@example.com", city="London", country="GB"
    )
    today = timezone.localdate()
    for days in (3, 40, 95):
        invoice = factories.make_invoice(
            company,
            customer,
            currency="eur",
            lines=[("Work", "1", 123456, "0")],
            issue_date=today - dt.timedelta(days=days),
        )
    payment_record_offline(invoice=invoice, amount=10000, method="bank_transfer")
    services.credit_note_create(company=company, customer=customer, currency="eur", amount=2500)
    return f"/portal/{factories.portal_token(customer)}/statement"


def test_it_shows_the_statement_on_phone_and_desktop(
    live_server: Any, page: Any, browser: Any, statement_url: str, screenshot: Any
) -> None:
    for query in ("?type=open_item&lang=en", "?lang=en"):
        url = live_server.url + statement_url + query
        for label, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
            csp_errors = _open(page, url, viewport)
            assert page.get_by_role("link", name="Download PDF").is_visible()
            assert page.get_by_text("€1,234.56").first.is_visible()
            _no_horizontal_scroll(page)
            screenshot(page, f"statement-{label}")
            assert csp_errors == []
            violations = _axe_violations(browser, url, viewport)
            assert violations == [], json.dumps(violations, indent=1)[:3000]
