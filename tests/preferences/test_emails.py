"""Sending: one path that asks the preferences, a real SMTP conversation, what the email says."""

from __future__ import annotations

import email
import email.policy
from typing import Any

import pytest
from django.core import mail

from invoices.models import Company, Customer, Invoice
from payments.services import stripe_connection_save
from preferences import emails
from preferences.models import EmailKind, EmailPreference, SentEmail, SentEmailStatus
from preferences.services import email_preference_ensure, email_preferences_update
from tests import factories

pytestmark = pytest.mark.django_db


def _queue(capture: Any, invoice: Invoice, kind: str = EmailKind.INVOICE) -> SentEmail:
    # The delivery task is queued on commit; run it as the commit would.
    with capture(execute=True):
        sent = emails.invoice_email_queue(invoice=invoice, kind=kind)
    sent.refresh_from_db()
    return sent


class TestSmtpConversation:
    def test_it_sends_a_multipart_email_with_one_click_headers_over_smtp(
        self,
        smtp_server: Any,
        tenant: Company,
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        customer = factories.make_customer(
            tenant, name="Grete", email="Grete@Example.com", preferred_language="de"
        )
        invoice = factories.make_invoice(tenant, customer, lines=[("Beratung", "1", 12050, "0")])

        sent = _queue(django_capture_on_commit_callbacks, invoice)

        assert sent.status == SentEmailStatus.SENT, sent.detail
        assert len(smtp_server.envelopes) == 1
        envelope = smtp_server.envelopes[0]
        assert envelope.rcpt_tos == ["grete@example.com"]
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert message.get_content_type() == "multipart/alternative"
        parts = [part.get_content_type() for part in message.iter_parts()]
        assert parts == ["text/plain", "text/html"]
        unsubscribe = str(message["List-Unsubscribe"]).strip()  # folded: may start with a space
        assert unsubscribe.startswith("<http://testserver/unsubscribe/")
        assert "?c=documents>" in unsubscribe
        assert ", <mailto:" in unsubscribe
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message["Content-Language"] == "de"
        assert message["Message-ID"] == sent.message_id
        assert "Tenant Ltd" in message["From"]
        html = message.get_body(preferencelist=("html",)).get_content()
        assert '<html lang="de">' in html
        text = message.get_body(preferencelist=("plain",)).get_content()
        assert "/invoice/" in text and "?source=email" in text
        # German number format from Babel: 120,50 $.
        assert "120,50" in text

    def test_it_records_a_failure_when_the_server_refuses(
        self, settings: Any, invoice: Invoice, django_capture_on_commit_callbacks: Any
    ) -> None:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
        with django_capture_on_commit_callbacks(execute=False):
            sent = emails.invoice_email_queue(invoice=invoice)
        with pytest.raises(OSError):
            emails.email_deliver(sent_email_id=sent.pk, final_attempt=True)
        sent.refresh_from_db()
        assert sent.status == SentEmailStatus.FAILED
        assert "Error" in sent.detail


class TestContent:
    def test_it_links_the_invoice_with_source_email_and_no_pay_link_without_stripe(
        self, invoice: Invoice, django_capture_on_commit_callbacks: Any
    ) -> None:
        sent = _queue(django_capture_on_commit_callbacks, invoice)
        assert sent.status == SentEmailStatus.SENT
        message = mail.outbox[0]
        assert "?source=email" in message.body
        assert "#pay" not in message.body
        html = message.alternatives[0][0]
        assert "Pay now" not in html

    def test_it_adds_a_pay_link_where_the_pay_gate_allows(
        self, tenant: Company, invoice: Invoice, django_capture_on_commit_callbacks: Any
    ) -> None:
        stripe_connection_save(company=tenant, secret_key="sk_test_1", webhook_secret="whsec_1")
        _queue(django_capture_on_commit_callbacks, invoice)
        message = mail.outbox[0]
        assert "?source=email#pay" in message.body
        assert "Pay now" in message.alternatives[0][0]

    def test_it_uses_the_company_brand_colour(
        self, tenant: Company, invoice: Invoice, django_capture_on_commit_callbacks: Any
    ) -> None:
        Company.objects.filter(pk=tenant.pk).update(brand_color="#aa3300")
        invoice.company.refresh_from_db()
        _queue(django_capture_on_commit_callbacks, invoice)
        assert "background:#aa3300" in mail.outbox[0].alternatives[0][0]

    def test_it_carries_the_company_logo_inline(
        self,
        smtp_server: Any,
        settings: Any,
        tmp_path: Any,
        tenant: Company,
        invoice: Invoice,
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        import base64

        from django.core.files.base import ContentFile

        # Nothing serves MEDIA_ROOT to the public, so a /media/ URL would be a broken image:
        # the logo travels in the email as a multipart/related part named by cid:.
        settings.MEDIA_ROOT = str(tmp_path)
        png = base64.b64decode(
            "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
        )
        tenant.logo.save("logo.png", ContentFile(png), save=True)
        invoice.company.refresh_from_db()

        sent = _queue(django_capture_on_commit_callbacks, invoice)

        assert sent.status == SentEmailStatus.SENT, sent.detail
        message = email.message_from_bytes(
            smtp_server.envelopes[0].content, policy=email.policy.default
        )
        assert message.get_content_type() == "multipart/related"
        html = message.get_body(preferencelist=("html",)).get_content()
        assert "/media/" not in html
        images = [part for part in message.walk() if part.get_content_type() == "image/png"]
        assert len(images) == 1
        assert images[0].get_payload(decode=True) == png
        cid = str(images[0]["Content-ID"]).strip("<>")
        assert f'src="cid:{cid}"' in html
        # The plain-text and HTML alternatives are still both there.
        assert message.get_body(preferencelist=("plain",)) is not None

    def test_it_escapes_customer_names_in_html(
        self, tenant: Company, django_capture_on_commit_callbacks: Any
    ) -> None:
        customer = factories.make_customer(tenant, name="<b>Eve</b>")
        invoice = factories.make_invoice(tenant, customer)
        _queue(django_capture_on_commit_callbacks, invoice)
        html = mail.outbox[0].alternatives[0][0]
        assert "<b>Eve</b>" not in html
        assert "&lt;b&gt;Eve&lt;/b&gt;" in html
        # Plain text is not HTML: the name reads as typed.
        assert "Hello <b>Eve</b>," in mail.outbox[0].body


class TestPreferencesAreHonoured:
    @pytest.mark.parametrize(
        ("category", "kind"),
        [
            ("documents", EmailKind.INVOICE),
            ("reminders", EmailKind.REMINDER_DUE_SOON),
            ("reminders", EmailKind.REMINDER_OVERDUE),
        ],
    )
    def test_it_skips_a_category_the_address_turned_off(
        self,
        category: str,
        kind: str,
        preference: EmailPreference,
        invoice: Invoice,
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        email_preferences_update(preference=preference, changes={category: False}, source="test")
        sent = _queue(django_capture_on_commit_callbacks, invoice, kind)
        assert sent.status == SentEmailStatus.SKIPPED
        assert sent.detail == "opted_out"
        assert mail.outbox == []

    @pytest.mark.parametrize("category", ["documents", "reminders", "marketing"])
    def test_it_answers_each_category_on_its_own(
        self, category: str, tenant: Company, customer: Customer, preference: EmailPreference
    ) -> None:
        from preferences.services import CATEGORIES, can_email

        # Every category is its own switch: turning one on or off moves no other.
        email_preferences_update(
            preference=preference, changes=dict.fromkeys(CATEGORIES, True), source="t"
        )
        email_preferences_update(preference=preference, changes={category: False}, source="t")
        answers = {
            name: can_email(company=tenant, email=customer.email.upper(), category=name)
            for name in CATEGORIES
        }
        assert answers == {name: name != category for name in CATEGORIES}

    def test_it_sends_no_marketing_without_consent(
        self, tenant: Company, customer: Customer, other_tenant: Company
    ) -> None:
        from preferences.services import can_email

        # No row yet: documents and reminders on, marketing off until the customer opts in.
        assert can_email(company=tenant, email=customer.email, category="documents")
        assert can_email(company=tenant, email=customer.email, category="reminders")
        assert not can_email(company=tenant, email=customer.email, category="marketing")
        pref = email_preference_ensure(company_id=tenant.pk, email=customer.email)
        email_preferences_update(preference=pref, changes={"marketing": True}, source="t")
        assert can_email(company=tenant, email=customer.email, category="marketing")
        # Consent given to one company is not consent to another.
        assert not can_email(company=other_tenant, email=customer.email, category="marketing")

    def test_it_still_sends_other_categories(
        self, preference: EmailPreference, invoice: Invoice, django_capture_on_commit_callbacks: Any
    ) -> None:
        email_preferences_update(preference=preference, changes={"reminders": False}, source="t")
        sent = _queue(django_capture_on_commit_callbacks, invoice, EmailKind.INVOICE)
        assert sent.status == SentEmailStatus.SENT
        assert len(mail.outbox) == 1

    def test_it_asks_again_at_delivery_time(
        self, preference: EmailPreference, invoice: Invoice, django_capture_on_commit_callbacks: Any
    ) -> None:
        with django_capture_on_commit_callbacks(execute=False):
            sent = emails.invoice_email_queue(invoice=invoice)
        assert sent.status == SentEmailStatus.QUEUED
        # The customer opts out while the message waits for a worker.
        email_preferences_update(preference=preference, changes={"documents": False}, source="t")
        emails.email_deliver(sent_email_id=sent.pk)
        sent.refresh_from_db()
        assert sent.status == SentEmailStatus.SKIPPED
        assert mail.outbox == []

    def test_it_matches_addresses_case_insensitively(
        self, tenant: Company, customer: Customer, django_capture_on_commit_callbacks: Any
    ) -> None:
        from preferences.services import email_preference_ensure

        upper = factories.make_customer(tenant, email=customer.email.upper())
        pref = email_preference_ensure(company_id=tenant.pk, email=customer.email)
        email_preferences_update(preference=pref, changes={"documents": False}, source="t")
        sent = _queue(django_capture_on_commit_callbacks, factories.make_invoice(tenant, upper))
        assert sent.status == SentEmailStatus.SKIPPED

    def test_it_keeps_each_company_s_preferences_apart(
        self,
        preference: EmailPreference,
        other_tenant: Company,
        customer: Customer,
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        email_preferences_update(preference=preference, changes={"documents": False}, source="t")
        same_person = factories.make_customer(other_tenant, email=customer.email)
        sent = _queue(
            django_capture_on_commit_callbacks, factories.make_invoice(other_tenant, same_person)
        )
        assert sent.status == SentEmailStatus.SENT


class TestRefusals:
    @pytest.mark.parametrize("status", ["draft", "void"])
    def test_it_refuses_drafts_and_void_invoices(self, tenant: Company, status: str) -> None:
        invoice = factories.make_invoice(tenant, status=status)
        with pytest.raises(emails.EmailRefused):
            emails.invoice_email_queue(invoice=invoice)
        assert not SentEmail.objects.exists()

    @pytest.mark.parametrize("status", ["paid", "uncollectible"])
    def test_it_never_reminds_about_paid_or_written_off_invoices(
        self, tenant: Company, status: str
    ) -> None:
        invoice = factories.make_invoice(tenant, status=status)
        with pytest.raises(emails.EmailRefused):
            emails.invoice_email_queue(invoice=invoice, kind=EmailKind.REMINDER_OVERDUE)

    def test_it_delivers_a_queued_email_only_once(
        self, invoice: Invoice, django_capture_on_commit_callbacks: Any
    ) -> None:
        sent = _queue(django_capture_on_commit_callbacks, invoice)
        # A redelivered task (acks_late) finds the row already taken.
        assert emails.email_deliver(sent_email_id=sent.pk) is None
        assert len(mail.outbox) == 1


class TestDeliveryTask:
    def test_it_retries_then_records_the_failure(
        self, settings: Any, invoice: Invoice, django_capture_on_commit_callbacks: Any
    ) -> None:
        from preferences.tasks import send_email

        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
        # Nothing listens on port 9. The first attempt fails; the row waits for the retry and
        # the queueing caller is not hurt (robust on_commit).
        sent = _queue(django_capture_on_commit_callbacks, invoice)
        assert sent.status == SentEmailStatus.QUEUED
        assert "ConnectionRefusedError" in sent.detail
        # The last retry gives up and says so on the row.
        with pytest.raises(ConnectionRefusedError):
            send_email.apply(args=[sent.pk], retries=send_email.max_retries)
        sent.refresh_from_db()
        assert sent.status == SentEmailStatus.FAILED
        assert "ConnectionRefusedError" in sent.detail

    def test_it_hands_over_again_an_email_whose_message_was_lost(
        self, invoice: Invoice, django_capture_on_commit_callbacks: Any
    ) -> None:
        import datetime as dt

        from preferences.tasks import requeue_stale_emails

        with django_capture_on_commit_callbacks(execute=False):
            sent = emails.invoice_email_queue(invoice=invoice)  # the broker "lost" it
        assert requeue_stale_emails.delay().get() == 0  # too recent to call lost
        SentEmail.objects.filter(pk=sent.pk).update(
            created_at=sent.created_at - dt.timedelta(minutes=16)
        )
        assert requeue_stale_emails.delay().get() == 1
        sent.refresh_from_db()
        assert sent.status == SentEmailStatus.SENT
        assert len(mail.outbox) == 1
        assert requeue_stale_emails.delay().get() == 0
