"""A company with its own portal domain: every link in its customers' emails (the invoice, the
pay link, the preferences page, the one-click unsubscribe) uses ``https://<its domain>``."""

from __future__ import annotations

import email
import email.policy
import re
from typing import Any

import pytest

from invoices.models import Company
from preferences import emails
from preferences.models import EmailKind, SentEmailStatus
from tests import factories

pytestmark = pytest.mark.django_db

HOST = "billing.tenant.example"


def test_it_puts_every_link_of_the_email_on_the_company_origin(
    smtp_server: Any, tenant: Company, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    Company.objects.filter(pk=tenant.pk).update(portal_domain=HOST)
    tenant.refresh_from_db()
    invoice = factories.make_invoice(tenant, lines=[("Consulting", "1", 5000, "0")])

    with django_capture_on_commit_callbacks(execute=True):
        sent = emails.invoice_email_queue(invoice=invoice, kind=EmailKind.INVOICE)
    sent.refresh_from_db()

    assert sent.status == SentEmailStatus.SENT, sent.detail
    message = email.message_from_bytes(
        smtp_server.envelopes[0].content, policy=email.policy.default
    )
    assert str(message["List-Unsubscribe"]).strip().startswith(f"<https://{HOST}/unsubscribe/")
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    links = set(re.findall(r"https?://[^\s\"'<>]+", text + html))
    portal_links = {link for link in links if "/invoice/" in link or "/preferences/" in link}
    assert any(f"https://{HOST}/invoice/" in link for link in portal_links)
    assert any(f"https://{HOST}/preferences/" in link for link in portal_links)
    assert all(link.startswith(f"https://{HOST}/") for link in portal_links), portal_links
    assert settings.PUBLIC_BASE_URL not in text
