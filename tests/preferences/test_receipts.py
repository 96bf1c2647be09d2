"""The customer's receipt: one email per payment (online or recorded), through the one sending
pipeline (logged, List-Unsubscribe), with the receipt PDF, in the customer's language, honouring
the documents preference; and the receipt PDF on the invoice's share link."""

from __future__ import annotations

import email
import email.policy
from typing import Any

from django.core import mail

from invoices.models import Company, Invoice
from payments.models import Payment, PaymentMethod
from payments.services import ReceivedPayment, payment_record, payment_record_offline
from preferences.models import EmailKind, EmailPreference, SentEmail, SentEmailStatus
from preferences.notifications import payment_emails_queue
from tests import factories


def _record(capture: Any, invoice: Invoice, amount: int = 4000) -> Payment:
    with capture(execute=True):
        return payment_record_offline(
            invoice=invoice, amount=amount, method=PaymentMethod.BANK_TRANSFER, reference="TX-9"
        )


def _receipts() -> list[SentEmail]:
    return list(SentEmail.objects.filter(kind=EmailKind.RECEIPT))


def test_it_emails_a_receipt_with_its_pdf_over_smtp(
    smtp_server: Any, tenant: Company, django_capture_on_commit_callbacks: Any
) -> None:
    customer = factories.make_customer(
        tenant, name="Grete", email="grete@example.com", preferred_language="de"
    )
    invoice = factories.make_invoice(tenant, customer, lines=[("Beratung", "1", 12050, "0")])

    payment = _record(django_capture_on_commit_callbacks, invoice)

    [sent] = _receipts()
    assert sent.status == SentEmailStatus.SENT, sent.detail
    assert sent.payment == payment and sent.invoice == invoice and sent.category == "documents"
    assert sent.language == "de"
    [envelope] = smtp_server.envelopes
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert message.get_content_type() == "multipart/mixed"
    assert str(message["Subject"]).strip().startswith("Quittung für Ihre Zahlung der Rechnung")
    assert "?c=documents>" in str(message["List-Unsubscribe"])
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "40,00" in text and "Quittung" in text
    [pdf] = [part for part in message.iter_attachments()]
    assert pdf.get_content_type() == "application/pdf"
    assert pdf.get_filename() == f"receipt-{invoice.number}-{payment.public_id}.pdf"
    assert pdf.get_content().startswith(b"%PDF")


def test_it_sends_one_receipt_per_online_payment(
    tenant: Company, customer: Any, django_capture_on_commit_callbacks: Any
) -> None:
    invoice = factories.make_invoice(tenant, customer, lines=[("Work", "1", 5000, "0")])
    received = ReceivedPayment(
        intent_id="pi_receipt_1",
        amount=5000,
        currency=invoice.currency,
        invoice_public_id=invoice.public_id,
    )
    # The redirect and the webhook both report it: recorded once, one receipt.
    for source in ("redirect", "webhook"):
        with django_capture_on_commit_callbacks(execute=True):
            payment_record(company=tenant, received=received, source=source)
    payment = Payment.objects.get(provider_payment_intent_id="pi_receipt_1")
    payment_emails_queue(company_id=tenant.pk, payment_public_id=payment.public_id)
    [sent] = _receipts()
    assert sent.status == SentEmailStatus.SENT, sent.detail
    assert len(mail.outbox) == 1
    assert mail.outbox[0].attachments[0][0].endswith(".pdf")
    assert "50.00" in mail.outbox[0].body


def test_it_skips_the_receipt_when_documents_are_off(
    preference: EmailPreference,
    invoice: Invoice,
    django_capture_on_commit_callbacks: Any,
) -> None:
    preference.documents = False
    preference.save()
    _record(django_capture_on_commit_callbacks, invoice)
    [sent] = _receipts()
    assert sent.status == SentEmailStatus.SKIPPED and sent.detail == "opted_out"
    assert mail.outbox == []


def test_it_writes_nothing_until_the_payment_commits(
    invoice: Invoice, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        payment_record_offline(invoice=invoice, amount=1000, method=PaymentMethod.CASH)
    assert _receipts() == []
    assert callbacks


class TestReceiptPdf:
    def test_it_serves_the_receipt_of_the_invoice_s_payment(
        self, client: Any, invoice: Invoice, django_capture_on_commit_callbacks: Any
    ) -> None:
        payment = _record(django_capture_on_commit_callbacks, invoice)
        token = factories.share_token(invoice)
        response = client.get(f"/invoice/{token}/payments/{payment.public_id}/receipt.pdf")
        assert response.status_code == 200
        assert response["Content-Type"] == "application/pdf"
        assert response["Content-Disposition"].startswith("attachment;")
        assert response["Cache-Control"] == "no-store"
        assert response.content.startswith(b"%PDF")

    def test_it_checks_ownership(
        self,
        client: Any,
        tenant: Company,
        invoice: Invoice,
        customer: Any,
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        other_invoice = factories.make_invoice(tenant, customer, lines=1)
        payment = _record(django_capture_on_commit_callbacks, other_invoice, amount=100)
        token = factories.share_token(invoice)
        for pay_id in (payment.public_id, "pay_nope", ""):
            response = client.get(f"/invoice/{token}/payments/{pay_id}/receipt.pdf")
            assert response.status_code == 404
            assert "Invoice not found" in response.content.decode()
        response = client.get(f"/invoice/bad-token/payments/{payment.public_id}/receipt.pdf")
        assert response.status_code == 404
