"""Staff send invoices by email from the API and the admin; the API exposes preferences_url."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.test import Client

from invoices.models import Company, Customer, Invoice
from preferences.models import EmailPreference, SentEmail, SentEmailStatus
from preferences.services import email_preferences_update
from tests import factories

pytestmark = pytest.mark.django_db


class TestSendApi:
    @pytest.mark.django_db(transaction=True)
    def test_it_sends_the_invoice(self, api_client: Client, invoice: Invoice) -> None:
        # Real commits: the eager task runs when the queueing transaction commits, so the
        # email is delivered before the answer, which says so with a 200.
        response = api_client.post(f"/api/v1/invoices/{invoice.public_id}/send")
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["status"] == "sent"
        assert body["id"].startswith("em_")
        assert body["invoice"] == invoice.public_id
        assert body["to"] == "ada@example.com"
        assert body["category"] == "documents"
        assert len(mail.outbox) == 1

    def test_it_answers_202_while_the_email_waits_for_a_worker(
        self, api_client: Client, invoice: Invoice, django_capture_on_commit_callbacks: Any
    ) -> None:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            response = api_client.post(f"/api/v1/invoices/{invoice.public_id}/send")
        assert response.status_code == 202
        assert response.json()["status"] == "queued"
        assert len(callbacks) == 1  # delivery handed to Celery on commit
        assert mail.outbox == []

    def test_it_honours_an_opt_out(
        self,
        api_client: Client,
        invoice: Invoice,
        preference: EmailPreference,
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        email_preferences_update(preference=preference, changes={"documents": False}, source="t")
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            response = api_client.post(f"/api/v1/invoices/{invoice.public_id}/send")
        assert response.status_code == 200
        assert response.json()["status"] == "skipped"
        assert response.json()["detail"] == "opted_out"
        assert callbacks == []
        assert mail.outbox == []

    def test_it_refuses_a_draft(self, api_client: Client, tenant: Company) -> None:
        draft = factories.make_invoice(tenant, status="draft")
        response = api_client.post(f"/api/v1/invoices/{draft.public_id}/send")
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "invalid_status"
        assert not SentEmail.objects.exists()

    def test_it_checks_ownership(self, api_client: Client, other_tenant: Company) -> None:
        theirs = factories.make_invoice(other_tenant)
        response = api_client.post(f"/api/v1/invoices/{theirs.public_id}/send")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
        assert not SentEmail.objects.exists()

    def test_it_is_in_the_openapi_schema(self, api_client: Client) -> None:
        paths = api_client.get("/api/v1/openapi.json").json()["paths"]
        operation = paths["/api/v1/invoices/{invoice_id}/send"]["post"]
        assert set(operation["responses"]) >= {"200", "202"}

    def test_it_needs_an_api_key(self, client: Client, invoice: Invoice) -> None:
        assert client.post(f"/api/v1/invoices/{invoice.public_id}/send").status_code == 401


class TestCustomerPreferencesUrl:
    def test_it_gives_a_working_preferences_url(self, api_client: Client) -> None:
        created = api_client.post(
            "/api/v1/customers",
            {"name": "Ada", "email": "Ada@Example.com"},
            content_type="application/json",
        ).json()
        url = created["preferences_url"]
        assert url.startswith("http://testserver/preferences/")
        again = api_client.get(f"/api/v1/customers/{created['id']}").json()
        assert again["preferences_url"] == url  # one token per address
        path = url.removeprefix("http://testserver")
        assert Client().get(path + ".json").json()["documents"] is True

    def test_a_get_never_writes(self, api_client: Client, customer: Customer) -> None:
        # A customer whose address has no preferences row yet (created outside the API).
        assert not EmailPreference.objects.filter(email=customer.email.lower()).exists()
        body = api_client.get(f"/api/v1/customers/{customer.public_id}").json()
        assert body["preferences_url"] is None
        assert not EmailPreference.objects.exists()


class TestAdminAction:
    def _send(self, client: Client, invoices: list[Invoice]) -> Any:
        return client.post(
            "/admin/invoices/invoice/",
            {"action": "send_invoice_by_email", "_selected_action": [i.pk for i in invoices]},
            follow=True,
        )

    def test_it_sends_the_selected_invoices(
        self,
        client: Client,
        staff: Any,
        tenant: Company,
        invoice: Invoice,
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        draft = factories.make_invoice(tenant, status="draft")
        client.force_login(staff)
        with django_capture_on_commit_callbacks(execute=True):
            response = self._send(client, [invoice, draft])
        assert response.status_code == 200
        text = response.content.decode()
        assert "1 email(s) queued; 0 skipped" in text
        assert f"{draft.number} was not sent" in text
        assert [m.to for m in mail.outbox] == [["ada@example.com"]]
        assert SentEmail.objects.get().status == SentEmailStatus.SENT

    def test_it_does_not_let_a_viewer_send(
        self, client: Client, viewer: Any, invoice: Invoice
    ) -> None:
        client.force_login(viewer)
        self._send(client, [invoice])
        assert not SentEmail.objects.exists()

    def test_it_shows_preferences_read_only(
        self, client: Client, staff: Any, preference: EmailPreference
    ) -> None:
        client.force_login(staff)
        listing = client.get("/admin/preferences/emailpreference/")
        assert listing.status_code == 200
        assert preference.email in listing.content.decode()
        change = client.post(
            f"/admin/preferences/emailpreference/{preference.pk}/change/",
            {"documents": "", "reminders": "", "marketing": "on"},
        )
        assert change.status_code == 403
        preference.refresh_from_db()
        assert preference.documents is True

    def test_it_checks_ownership_of_the_email_log(
        self,
        client: Client,
        outsider: Any,
        invoice: Invoice,
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        from preferences.emails import invoice_email_queue

        with django_capture_on_commit_callbacks(execute=True):
            sent = invoice_email_queue(invoice=invoice)
        client.force_login(outsider)
        assert client.get(f"/admin/preferences/sentemail/{sent.pk}/change/").status_code == 404
        assert sent.to_email not in client.get("/admin/preferences/sentemail/").content.decode()


def test_it_lists_the_emails_on_the_invoice_page(
    client: Client, staff: Any, invoice: Invoice, django_capture_on_commit_callbacks: Any
) -> None:
    from preferences.emails import invoice_email_queue

    with django_capture_on_commit_callbacks(execute=True):
        invoice_email_queue(invoice=invoice)
    client.force_login(staff)
    html = client.get(f"/admin/invoices/invoice/{invoice.pk}/change/").content.decode()
    assert "Emails" in html
    assert "ada@example.com" in html
