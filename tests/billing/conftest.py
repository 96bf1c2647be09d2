"""Billing details: a company that lets customers change every field, and a real SMTP server
(aiosmtpd) for the confirmation emails."""

from __future__ import annotations

import re
from typing import Any

import pytest

from invoices import services
from invoices.models import Company, Customer
from tests import factories
from tests.preferences.conftest import RecordingHandler, smtp_server  # noqa: F401

ALL_GROUPS = ["name", "address", "billing_email", "phone", "tax_id", "buyer_reference", "language"]


def allow(company: Company, groups: list[str]) -> None:
    services.company_update(company=company, changes={"portal_editable_fields": groups})


@pytest.fixture
def open_company(tenant: Company) -> Company:
    allow(tenant, ALL_GROUPS)
    return tenant


@pytest.fixture
def portal_token(customer: Customer) -> str:
    return factories.portal_token(customer)


def messages_to(handler: RecordingHandler, address: str) -> list[str]:
    return [
        envelope.content.decode("utf-8", "replace")
        for envelope in handler.envelopes
        if address in envelope.rcpt_tos
    ]


def confirm_link(body: str) -> str:
    # The body is quoted-printable or 8bit text: undo soft line breaks before searching.
    flat = body.replace("=\r\n", "").replace("=\n", "")
    found = re.search(r"http://[^\s]+/portal/billing-email/[A-Za-z0-9_-]+", flat)
    assert found, flat
    return found.group(0)


def posted(customer: Customer, **fields: Any) -> dict[str, Any]:
    return dict(fields)
