"""No over-collection: one open Checkout Session per invoice (reused, or expired in Stripe
when another amount is asked for), voiding closes them, and a payment beyond what is owed
counts up to what is owed while the surplus is refunded through Stripe or kept as a credit
note (the company's setting)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from invoices.models import AuditEvent, Company, CreditNote, Invoice, InvoiceStatus
from invoices.services import invoice_void
from payments import services, stripe_client
from payments.models import (
    AttemptStatus,
    CheckoutAttempt,
    OverpaymentHandling,
    Payment,
    Refund,
    StripeConnection,
)
from stripe_emulator.server import EmulatorServer
from tests.concurrency import in_threads
from tests.factories import make_invoice
from tests.payments.conftest import SECRET_KEY, pay_on_hosted_page

RETURN = "http://testserver/invoice/x"


def _open_sessions(emulator: EmulatorServer) -> list[dict[str, Any]]:
    account = emulator.emulator.store.account_for_secret_key(SECRET_KEY)
    return [s for s in account.of_kind("checkout.session") if s["status"] == "open"]


def _charges(emulator: EmulatorServer) -> list[dict[str, Any]]:
    account = emulator.emulator.store.account_for_secret_key(SECRET_KEY)
    return list(account.of_kind("charge"))


def _start(invoice: Invoice, amount: int) -> CheckoutAttempt:
    return services.checkout_session_start(invoice=invoice, amount=amount, return_base_url=RETURN)


@pytest.mark.django_db
def test_it_reuses_the_open_session_for_the_same_amount(
    tenant: Company, connected: StripeConnection, emulator: EmulatorServer
) -> None:
    invoice = make_invoice(tenant, lines=[("Work", "1", 10000, "0")])
    first, second = _start(invoice, 10000), _start(invoice, 10000)
    assert first.pk == second.pk and first.provider_id == second.provider_id
    assert len(_open_sessions(emulator)) == 1


@pytest.mark.django_db
def test_it_expires_the_open_session_in_stripe_when_another_amount_is_asked(
    tenant: Company, connected: StripeConnection, emulator: EmulatorServer
) -> None:
    invoice = make_invoice(tenant, lines=[("Work", "1", 10000, "0")], allow_partial_payments=True)
    old = _start(invoice, 4000)
    new = _start(invoice, 6000)
    assert [s["id"] for s in _open_sessions(emulator)] == [new.provider_id]
    old.refresh_from_db()
    assert old.status == AttemptStatus.EXPIRED
    assert CheckoutAttempt.objects.filter(status=AttemptStatus.OPEN).count() == 1


@pytest.mark.django_db
def test_voiding_expires_the_open_sessions_in_stripe(
    tenant: Company,
    connected: StripeConnection,
    emulator: EmulatorServer,
    api_client: Any,
) -> None:
    invoice = make_invoice(tenant, lines=[("Work", "1", 10000, "0")])
    _start(invoice, 10000)
    assert len(_open_sessions(emulator)) == 1
    response = api_client.post(f"/api/v1/invoices/{invoice.public_id}/void")
    assert response.status_code == 200
    assert _open_sessions(emulator) == []
    assert not CheckoutAttempt.objects.filter(status=AttemptStatus.OPEN).exists()
    assert AuditEvent.objects.filter(action="checkout.sessions_expired").exists()


@pytest.mark.django_db
def test_voiding_in_the_admin_expires_the_open_sessions(
    client: Any,
    staff: Any,
    tenant: Company,
    connected: StripeConnection,
    emulator: EmulatorServer,
) -> None:
    invoice = make_invoice(tenant, lines=[("Work", "1", 10000, "0")])
    _start(invoice, 10000)
    client.force_login(staff)
    client.post(
        "/admin/invoices/invoice/",
        {"action": "void", "_selected_action": [invoice.pk]},
    )
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.VOID
    assert _open_sessions(emulator) == []


@pytest.mark.django_db
def test_a_payment_on_a_void_invoice_is_refunded_whole(
    tenant: Company,
    connected: StripeConnection,
    emulator: EmulatorServer,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """A session paid in the moment between the void and its expiry in Stripe."""
    invoice = make_invoice(tenant, lines=[("Work", "1", 4000, "0")])
    attempt = _start(invoice, 4000)
    pay_on_hosted_page(attempt.checkout_url)
    invoice_void(invoice=invoice)
    invoice.refresh_from_db()
    attempt.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        outcome = services.checkout_reconcile(invoice=invoice, attempt=attempt)
    assert outcome.state == "succeeded"
    payment = Payment.objects.get()
    invoice.refresh_from_db()
    assert (payment.surplus, invoice.amount_paid) == (4000, 0)
    assert payment.flagged_overpayment and payment.surplus_refund_id
    assert [c["amount_refunded"] for c in _charges(emulator)] == [4000]
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.VOID, 0)


@pytest.mark.django_db
def test_a_payment_on_a_void_invoice_is_refunded_even_when_surpluses_are_credited(
    tenant: Company,
    connected: StripeConnection,
    emulator: EmulatorServer,
    django_capture_on_commit_callbacks: Any,
) -> None:
    StripeConnection.objects.filter(pk=connected.pk).update(overpayment_handling="credit")
    invoice = make_invoice(tenant, lines=[("Work", "1", 4000, "0")])
    attempt = _start(invoice, 4000)
    pay_on_hosted_page(attempt.checkout_url)
    invoice_void(invoice=invoice)
    attempt.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        services.checkout_reconcile(invoice=invoice, attempt=attempt)
    assert [c["amount_refunded"] for c in _charges(emulator)] == [4000]
    assert not CreditNote.objects.exists()


@pytest.mark.django_db
def _two_paid_checkouts(invoice: Invoice) -> None:
    """Pay the invoice in full twice: through our session, and through a second session
    opened outside the one-session rule (a tab from before it, another integration)."""
    attempt = _start(invoice, 10000)
    stray = stripe_client.checkout_session_create(
        secret_key=SECRET_KEY,
        amount=10000,
        currency="usd",
        description="Invoice",
        customer_email=None,
        metadata={"invoice": invoice.public_id},
        success_url=RETURN + "/pay/success",
        cancel_url=RETURN + "/pay/cancel",
        idempotency_key="stray-session",
    )
    pay_on_hosted_page(attempt.checkout_url)
    pay_on_hosted_page(stray.url or "")
    attempt.refresh_from_db()
    stray_attempt = CheckoutAttempt(invoice=invoice, kind="checkout", provider_id=stray.id)
    services.checkout_reconcile(invoice=invoice, attempt=attempt)
    services.checkout_reconcile(invoice=invoice, attempt=stray_attempt)


@pytest.mark.django_db
def test_two_paid_checkouts_keep_what_is_owed_and_refund_the_rest(
    tenant: Company,
    connected: StripeConnection,
    emulator: EmulatorServer,
    django_capture_on_commit_callbacks: Any,
) -> None:
    invoice = make_invoice(tenant, lines=[("Work", "1", 10000, "0")])
    with django_capture_on_commit_callbacks(execute=True):
        _two_paid_checkouts(invoice)

    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.PAID, 10000)
    second = Payment.objects.get(surplus__gt=0)
    assert (second.amount, second.surplus, second.surplus_handling) == (10000, 10000, "refund")
    assert second.flagged_overpayment and second.surplus_refund_id.startswith("re_")
    # In Stripe: 200.00 collected, the other 100.00 refunded.
    assert sorted(c["amount_refunded"] for c in _charges(emulator)) == [0, 10000]
    assert sum(c["amount"] - c["amount_refunded"] for c in _charges(emulator)) == 10000
    # In the ledger: one refund row, which leaves the invoice paid in full.
    assert [r.amount for r in Refund.objects.filter(payment=second)] == [10000]
    assert AuditEvent.objects.filter(action="payment.overpaid").count() == 1
    assert AuditEvent.objects.filter(action="payment.surplus_refunded").count() == 1
    # charge.refunded for the surplus (the webhook, later) changes nothing more.
    services.payment_refund_record(
        company=tenant, intent_id=second.provider_payment_intent_id, amount_refunded=10000
    )
    invoice.refresh_from_db()
    assert invoice.amount_paid == 10000 and Refund.objects.count() == 1


@pytest.mark.django_db
def test_the_surplus_refund_is_made_once(
    tenant: Company,
    connected: StripeConnection,
    emulator: EmulatorServer,
    django_capture_on_commit_callbacks: Any,
) -> None:
    invoice = make_invoice(tenant, lines=[("Work", "1", 10000, "0")])
    with django_capture_on_commit_callbacks(execute=True):
        _two_paid_checkouts(invoice)
    second = Payment.objects.get(surplus__gt=0)
    # A retried task (a lost acknowledgement) finds the refund made.
    assert services.payment_surplus_refund(payment_pk=second.pk) == second.surplus_refund_id
    Payment.objects.filter(pk=second.pk).update(surplus_refund_id="")
    # Even with the id lost, Stripe's idempotency key refunds once.
    services.payment_surplus_refund(payment_pk=second.pk)
    assert sorted(c["amount_refunded"] for c in _charges(emulator)) == [0, 10000]


@pytest.mark.django_db
def test_two_paid_checkouts_keep_the_surplus_as_credit_when_the_company_asks(
    tenant: Company,
    connected: StripeConnection,
    emulator: EmulatorServer,
    django_capture_on_commit_callbacks: Any,
) -> None:
    services.stripe_connection_save(
        company=tenant,
        secret_key=None,
        webhook_secret=None,
        overpayment_handling=OverpaymentHandling.CREDIT,
    )
    invoice = make_invoice(tenant, lines=[("Work", "1", 10000, "0")])
    with django_capture_on_commit_callbacks(execute=True):
        _two_paid_checkouts(invoice)

    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.PAID, 10000)
    second = Payment.objects.get(surplus__gt=0)
    note = CreditNote.objects.get()
    assert second.surplus_credit_note == note and second.surplus_handling == "credit"
    assert (note.amount, note.currency, note.customer_id) == (10000, "usd", invoice.customer_id)
    # Nothing refunded in Stripe, and the credited part is not refundable again.
    assert [c["amount_refunded"] for c in _charges(emulator)] == [0, 0]
    assert second.amount_refundable == 0
    with pytest.raises(services.RefundRefused):
        services.payment_refund(payment=second)


@pytest.mark.django_db
def test_the_admin_shows_the_surplus_on_the_payment(
    client: Any, staff: Any, tenant: Company
) -> None:
    invoice = make_invoice(tenant, lines=[("Work", "1", 10000, "0")])
    Payment.objects.create(
        company=tenant,
        invoice=invoice,
        amount=12000,
        currency="usd",
        provider_payment_intent_id="pi_x",
        method="checkout",
        source="webhook",
        flagged_overpayment=True,
        surplus=2000,
        surplus_handling="refund",
        surplus_refund_id="re_123",
    )
    client.force_login(staff)
    page = client.get(f"/admin/invoices/invoice/{invoice.pk}/change/").content.decode()
    assert "$20.00 refunded (re_123)" in page
    listing = client.get("/admin/payments/payment/?flagged=yes").content.decode()
    assert "re_123" in listing


# On PostgreSQL, with real row locks and threads ------------------------------------------


@pytest.mark.parametrize("amounts", ["same", "different"])
@pytest.mark.postgres_only
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks")
@pytest.mark.django_db(transaction=True)
def test_ten_parallel_checkout_starts_leave_at_most_one_open_session(
    tenant: Company, emulator: EmulatorServer, amounts: str
) -> None:
    services.stripe_connection_save(
        company=tenant, secret_key=SECRET_KEY, webhook_secret="whsec_tenant_secret"
    )
    invoice = make_invoice(tenant, lines=[("Work", "1", 10000, "0")], allow_partial_payments=True)
    wanted = [10000] * 10 if amounts == "same" else [1000 * (i + 1) for i in range(10)]
    results = in_threads(*(lambda a=a: _start(invoice, a) for a in wanted))
    unexpected = [
        r
        for r in results
        if isinstance(r, Exception)
        and not (isinstance(r, services.PaymentRefused) and r.code == "superseded")
    ]
    assert not unexpected, unexpected
    assert len(_open_sessions(emulator)) <= 1
    assert CheckoutAttempt.objects.filter(status=AttemptStatus.OPEN).count() <= 1
    if amounts == "same":
        assert len({r.provider_id for r in results}) == 1
        assert len(_open_sessions(emulator)) == 1
