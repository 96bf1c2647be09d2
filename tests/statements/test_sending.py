"""Emailing a statement: POST /api/v1/customers/<id>/statement/send, and the customer admin's
statement page, its "Email this statement" button and action."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core import mail

from invoices.models import Company, Customer
from invoices.services import api_key_create
from invoices.timezones import company_today
from payments import statements
from payments.services import payment_record_offline
from preferences.models import EmailKind, SentEmail
from preferences.services import email_preference_ensure, email_unsubscribe
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def delivering(django_capture_on_commit_callbacks: Any) -> Any:
    """Delivers what a block queued, as its commit would (Celery runs eagerly in tests)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def ledger(tenant: Company, customer: Customer) -> dict[str, Any]:
    today = company_today(tenant)
    first = statements.month_start(today, 1)
    invoice = factories.make_invoice(
        tenant, customer, lines=[("A", "1", 9000, "0")], issue_date=first
    )
    paid_at = dt.datetime.combine(first + dt.timedelta(days=1), dt.time(12), tzinfo=dt.UTC)
    payment_record_offline(invoice=invoice, amount=1500, method="cash", paid_at=paid_at)
    return {"first": first, "invoice": invoice}


def _send_url(customer: Customer) -> str:
    return f"/api/v1/customers/{customer.public_id}/statement/send"


def test_the_api_queues_a_statement_with_the_pdf_attached(
    api_client: Any, customer: Customer, ledger: dict[str, Any], delivering: Any
) -> None:
    month = ledger["first"].strftime("%Y-%m")
    with delivering():
        response = api_client.post(
            _send_url(customer), {"month": month}, content_type="application/json"
        )
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["kind"] == "statement" and body["customer"] == customer.public_id
    assert body["status"] in ("queued", "sent")
    sent = SentEmail.objects.get(public_id=body["id"])
    assert sent.statement == {"type": "balance_forward", "currency": "usd", "month": month}
    [message] = mail.outbox
    assert message.to == ["ada@example.com"]
    assert "Statement of account" in message.subject
    assert "List-Unsubscribe" in message.extra_headers
    [(filename, content, mimetype)] = message.attachments
    assert filename == f"statement-usd-{month}.pdf"
    assert mimetype == "application/pdf" and content.startswith(b"%PDF")
    assert "$75.00" in message.body  # the closing balance
    assert "/statement?type=balance_forward" in message.body


def test_it_honours_the_documents_preference(
    api_client: Any, tenant: Company, customer: Customer, ledger: dict[str, Any]
) -> None:
    preference = email_preference_ensure(company_id=tenant.pk, email=customer.email)
    email_unsubscribe(preference=preference, category="documents", source="link")
    response = api_client.post(_send_url(customer), content_type="application/json")
    assert response.status_code == 202
    assert response.json()["status"] == "skipped"
    assert response.json()["detail"] == "opted_out"
    assert mail.outbox == []


def test_it_refuses_bad_values_and_unknown_fields(api_client: Any, customer: Customer) -> None:
    bad = api_client.post(
        _send_url(customer), {"month": "1999-01"}, content_type="application/json"
    )
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "month"
    unknown = api_client.post(_send_url(customer), {"week": 3}, content_type="application/json")
    assert unknown.status_code == 400
    assert not SentEmail.objects.filter(kind=EmailKind.STATEMENT).exists()


def test_the_api_checks_ownership(client: Any, tenant: Company, other_tenant: Company) -> None:
    customer = factories.make_customer(tenant)
    key = api_key_create(company=other_tenant)[1]
    response = client.post(
        _send_url(customer), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}"
    )
    assert response.status_code == 404
    assert mail.outbox == []


# The admin -----------------------------------------------------------------------------------


def _statement_url(customer: Customer, suffix: str = "/") -> str:
    return f"/admin/invoices/customer/{customer.pk}/statement{suffix}"


def test_staff_who_read_see_the_statement_without_the_send_button(
    client: Any, viewer: Any, customer: Customer, ledger: dict[str, Any]
) -> None:
    client.force_login(viewer)
    response = client.get(_statement_url(customer) + "?type=open_item")
    assert response.status_code == 200
    html = response.content.decode()
    assert ledger["invoice"].number in html and "$75.00" in html
    assert "statement/send/" not in html
    assert client.post(_statement_url(customer, "/send/")).status_code == 403
    pdf = client.get(_statement_url(customer, ".pdf"))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    change = client.get(f"/admin/invoices/customer/{customer.pk}/change/")
    assert _statement_url(customer) in change.content.decode()


def test_managers_email_the_statement_they_look_at(
    client: Any, staff: Any, customer: Customer, ledger: dict[str, Any], delivering: Any
) -> None:
    client.force_login(staff)
    month = ledger["first"].strftime("%Y-%m")
    page = client.get(_statement_url(customer) + f"?month={month}")
    assert "statement/send/" in page.content.decode()
    with delivering():
        response = client.post(
            _statement_url(customer, "/send/"), {"type": "balance_forward", "month": month}
        )
    assert response.status_code == 302
    sent = SentEmail.objects.get(kind=EmailKind.STATEMENT)
    assert sent.statement["month"] == month
    assert len(mail.outbox) == 1


def test_the_admin_answers_400_for_bad_values(client: Any, viewer: Any, customer: Customer) -> None:
    client.force_login(viewer)
    response = client.get(_statement_url(customer) + "?month=2020-13")
    assert response.status_code == 400
    assert "month must be" in response.content.decode()


def test_the_admin_checks_ownership(client: Any, outsider: Any, customer: Customer) -> None:
    client.force_login(outsider)
    assert client.get(_statement_url(customer)).status_code == 404
    assert client.get(_statement_url(customer, ".pdf")).status_code == 404
    assert client.post(_statement_url(customer, "/send/")).status_code == 404
    assert mail.outbox == []


def test_the_action_emails_this_months_statement(
    client: Any, staff: Any, tenant: Company, customer: Customer, delivering: Any
) -> None:
    other = factories.make_customer(tenant)
    client.force_login(staff)
    with delivering():
        response = client.post(
            "/admin/invoices/customer/",
            {"action": "send_statement_by_email", "_selected_action": [customer.pk, other.pk]},
        )
    assert response.status_code == 302
    assert SentEmail.objects.filter(kind=EmailKind.STATEMENT).count() == 2
    assert len(mail.outbox) == 2
