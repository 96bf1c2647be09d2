"""Writes for payments: connecting Stripe, starting a payment (Checkout or the card on the
page), reconciling what Stripe says, recording each payment exactly once, refunds, and
storing webhook events.

The one invariant: an invoice's ``amount_paid`` and status change only in payment_record()
and payment_refund_record(), holding a row lock on the invoice, so concurrent payments,
webhooks and redirects are applied one at a time and each PaymentIntent counts once.

No over-collection: an invoice has at most one open Checkout Session or card PaymentIntent
(the same amount reuses it, another amount or the other way of paying expires or cancels it,
in Stripe too; voiding closes them all), and a Stripe payment
for more than is still owed counts up to what is owed: the rest (its ``surplus``) is refunded
through Stripe automatically or kept as a credit note (the company's overpayment setting),
audited and flagged for staff.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from core.crypto import SecretUnreadable, decrypt_secret, encrypt_secret
from core.errors import ApplicationError
from invoices import events
from invoices import services as invoice_services
from invoices.events import Actor, acting_user
from invoices.models import Company, Invoice, InvoiceStatus
from invoices.money import AmountError, format_money
from invoices.services import credit_note_create, invoice_transition, invoice_transition_locked
from invoices.transitions import check_transition
from invoices.webhooks.services import event_emit
from payments import stripe_client
from payments.gates import pay_gate
from payments.models import (
    OFFLINE_METHODS,
    AttemptKind,
    AttemptStatus,
    CheckoutAttempt,
    OverpaymentHandling,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Refund,
    StripeConnection,
)
from payments.rules import offline_amount_check, payment_amount_check
from payments.tasks import payment_surplus_refund_task

logger = logging.getLogger("payments")

# Stripe keeps idempotency keys for 24 hours; an attempt older than this gets a fresh key.
ATTEMPT_REUSE_WINDOW = dt.timedelta(hours=23)
PAYABLE_STATUSES = (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE)


class PaymentRefused(ApplicationError):
    """The server's own refusal (gate or amount rule), worded for the customer.
    ``field`` is "amount" when the message belongs next to the amount input (a 400); a
    refusal of the payment as a whole is a 409."""

    def __init__(self, message: str, *, code: str, field: str | None = None) -> None:
        super().__init__(code, message, field, status=409 if field is None else 400)


# Connection ------------------------------------------------------------------------------


@transaction.atomic
def stripe_connection_save(
    *,
    company: Company,
    secret_key: str | None,
    webhook_secret: str | None,
    publishable_key: str | None = None,
    active: bool = True,
    overpayment_handling: str | None = None,
    actor: Actor = None,
) -> StripeConnection:
    """Connect (or reconnect) the company's Stripe account. Secrets are encrypted here and
    never returned; None keeps a saved secret (the admin form leaves them blank). The webhook
    key, and so the webhook URL, survives a reconnect."""
    connection = StripeConnection.objects.select_for_update().filter(company=company).first()
    if connection is None:
        if not secret_key or not webhook_secret:
            raise ValueError("Both the secret key and the webhook signing secret are needed.")
        connection = StripeConnection(company=company)
    if secret_key:
        secret_key = secret_key.strip()
        if not secret_key.startswith(("sk_", "rk_")):
            raise ValueError("The secret key must start with sk_ (or rk_ for a restricted key).")
        connection.secret_key_encrypted = encrypt_secret(secret_key)
        connection.secret_key_hint = secret_key[-4:]
    if webhook_secret:
        webhook_secret = webhook_secret.strip()
        if not webhook_secret.startswith("whsec_"):
            raise ValueError("The webhook signing secret must start with whsec_.")
        connection.webhook_secret_encrypted = encrypt_secret(webhook_secret)
    if publishable_key is not None:
        publishable_key = publishable_key.strip()
        if publishable_key and not publishable_key.startswith("pk_"):
            raise ValueError("The publishable key must start with pk_.")
        connection.publishable_key = publishable_key
    connection.active = active
    if overpayment_handling is not None:
        if overpayment_handling not in OverpaymentHandling.values:
            raise ValueError("Overpayments are either refunded or kept as credit.")
        connection.overpayment_handling = overpayment_handling
    connection.save()
    events.record(
        company=company,
        action="stripe.connected" if active else "stripe.disconnected",
        object_id=connection.webhook_key,
        actor=actor,
        key_hint=connection.secret_key_hint,
        overpayment_handling=connection.overpayment_handling,
    )
    return connection


def webhook_path(connection: StripeConnection) -> str:
    return f"/webhooks/stripe/{connection.webhook_key}"


def _secret_key(company: Company) -> str:
    """The company's Stripe secret key; a PaymentProviderError (shown as "not available")
    when Stripe was disconnected meanwhile or the key no longer decrypts (SECRET_KEY rotated
    without a fallback: the company must reconnect)."""
    connection = StripeConnection.objects.filter(company=company, active=True).first()
    try:
        if connection is None:
            raise SecretUnreadable("No active Stripe connection.")
        return decrypt_secret(connection.secret_key_encrypted)
    except SecretUnreadable as exc:
        logger.error("stripe.unusable_connection company=%s reason=%s", company.slug, exc)
        raise stripe_client.PaymentProviderError(
            _("Online payment is not available for this invoice right now."), code="not_connected"
        ) from exc


# Starting a payment ----------------------------------------------------------------------


def _refuse_unless_payable(invoice: Invoice, amount: int, locale: str) -> None:
    gate = pay_gate(invoice=invoice, connected=True)
    if not gate.allowed:
        raise PaymentRefused(str(gate.reason), code="not_payable")
    try:
        payment_amount_check(invoice=invoice, amount=amount, locale=locale)
    except AmountError as exc:
        raise PaymentRefused(exc.message, code=exc.code, field="amount") from None


def _attempt_for(
    *, invoice: Invoice, kind: str, amount: int, locale: str
) -> tuple[CheckoutAttempt, list[tuple[str, str]]]:
    """The open attempt for this invoice, kind, amount and state of payment, or a new one; and
    the attempts it supersedes (their Checkout Sessions and PaymentIntents, to close in Stripe
    once committed). The invoice row lock serialises two clicks, so both get the same attempt
    (and Stripe key), and an invoice never keeps two open attempts: asking for another amount,
    or paying the other way, closes the open one."""
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().select_related("company").get(pk=invoice.pk)
        if not StripeConnection.objects.filter(company_id=locked.company_id, active=True).exists():
            raise PaymentRefused(
                _("Online payment is not available for this invoice."), code="not_connected"
            )
        _refuse_unless_payable(locked, amount, locale)
        attempt = (
            CheckoutAttempt.objects.filter(
                invoice=locked,
                kind=kind,
                amount=amount,
                amount_paid_before=locked.amount_paid,
                status=AttemptStatus.OPEN,
                created_at__gte=timezone.now() - ATTEMPT_REUSE_WINDOW,
            )
            .order_by("-created_at")
            .first()
        )
        # One open attempt per invoice, whatever its kind: a Checkout Session and a card's
        # PaymentIntent are both money that could be collected at once.
        superseded = _checkout_attempts_close(
            locked, keep=attempt.pk if attempt is not None else None
        )
        if attempt is None:
            attempt = CheckoutAttempt(
                company_id=locked.company_id,
                invoice=locked,
                kind=kind,
                amount=amount,
                currency=locked.currency,
                amount_paid_before=locked.amount_paid,
            )
            attempt.idempotency_key = f"invoice-portal-{kind}-{attempt.public_id}"
            attempt.save()
        return attempt, superseded


def _checkout_attempts_close(invoice: Invoice, *, keep: int | None = None) -> list[tuple[str, str]]:
    """Mark the invoice's open attempts, Checkout and card (but ``keep``), expired and return
    their (kind, Stripe id), for the caller to close in Stripe after it commits; the caller
    holds the invoice lock. An attempt whose session or intent Stripe has not answered yet has
    no id here: its own start finds it closed when it stores the id, and closes it itself."""
    open_attempts = CheckoutAttempt.objects.filter(invoice=invoice, status=AttemptStatus.OPEN)
    if keep is not None:
        open_attempts = open_attempts.exclude(pk=keep)
    closed = [(a.kind, a.provider_id) for a in open_attempts.select_for_update() if a.provider_id]
    open_attempts.update(
        status=AttemptStatus.EXPIRED, error="Superseded", updated_at=timezone.now()
    )
    return closed


def _sessions_expire(company: Company, closed: list[tuple[str, str]]) -> None:
    """Close attempts in Stripe (outside any transaction): expire Checkout Sessions, cancel
    card PaymentIntents. A failure is logged: the attempt is closed on our side, and a payment
    that still arrives is never kept beyond what is owed (payment_record refunds or credits
    the surplus)."""
    if not closed:
        return
    try:
        secret_key = _secret_key(company)
    except stripe_client.PaymentProviderError:
        return
    for kind, provider_id in closed:
        try:
            if kind == AttemptKind.CARD:
                stripe_client.payment_intent_cancel(secret_key=secret_key, intent_id=provider_id)
            else:
                stripe_client.checkout_session_expire(secret_key=secret_key, session_id=provider_id)
        except stripe_client.PaymentProviderError as exc:
            logger.warning("attempt.close_failed id=%s code=%s", provider_id, exc.code)


def invoice_checkouts_expire(*, invoice: Invoice, actor: Actor = None) -> int:
    """Close every open Checkout and card attempt of the invoice, in Stripe too: called after a
    void (from the API and the invoice admin), when nothing may be paid any more. How many
    sessions and intents closed."""
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().select_related("company").get(pk=invoice.pk)
        closed = _checkout_attempts_close(locked)
    _sessions_expire(locked.company, closed)
    if closed:
        events.record(
            company=locked.company,
            action="checkout.sessions_expired",
            object_id=locked.public_id,
            actor=actor,
            sessions=[pid for kind, pid in closed if kind == AttemptKind.CHECKOUT],
            intents=[pid for kind, pid in closed if kind == AttemptKind.CARD],
        )
    return len(closed)


def _metadata(invoice: Invoice, attempt: CheckoutAttempt) -> dict[str, str]:
    return {
        "invoice": invoice.public_id,
        "invoice_number": invoice.number,
        "attempt": attempt.public_id,
    }


def _stripe_key(attempt: CheckoutAttempt) -> str:
    # The request carries words in the page's language (the product name, Checkout's locale),
    # and Stripe refuses one key with two bodies: the same attempt opened in another language
    # gets its own, equally fixed, key.
    return f"{attempt.idempotency_key}:{translation.get_language() or 'en'}"


def _description(invoice: Invoice) -> str:
    return _("Invoice %(number)s from %(company)s") % {
        "number": invoice.number,
        "company": invoice.company.name,
    }


def checkout_session_start(
    *, invoice: Invoice, amount: int, return_base_url: str, locale: str = "en"
) -> CheckoutAttempt:
    """A Checkout Session for ``amount`` of ``invoice`` (its url is on the attempt).

    The Stripe call is made with the attempt's fixed idempotency key and outside any database
    transaction (no row lock is held while waiting for Stripe). ``return_base_url`` is the
    page to come back to (``…/invoice/<token>``); success and cancel live below it.
    """
    if invoice.is_stripe_native:
        # A Checkout payment would not be the Stripe invoice's: Stripe would still claim it.
        raise PaymentRefused(
            _("This invoice is paid on Stripe's invoice page."), code="pay_on_stripe_page"
        )
    attempt, superseded = _attempt_for(
        invoice=invoice, kind=AttemptKind.CHECKOUT, amount=amount, locale=locale
    )
    _sessions_expire(invoice.company, superseded)
    # The page language travels to Stripe and back: the return pages speak it too.
    query = f"?attempt={attempt.public_id}&lang={locale}"
    session = stripe_client.checkout_session_create(
        secret_key=_secret_key(invoice.company),
        amount=amount,
        currency=invoice.currency,
        description=_description(invoice),
        customer_email=invoice.customer.email or None,
        metadata=_metadata(invoice, attempt),
        success_url=f"{return_base_url}/pay/success{query}",
        cancel_url=f"{return_base_url}/pay/cancel{query}",
        idempotency_key=_stripe_key(attempt),
        locale=locale,
    )
    previous = attempt.provider_id
    attempt.provider_id = session.id
    attempt.provider_intent_id = session.payment_intent or ""
    attempt.checkout_url = session.url or ""
    # Stored only while the attempt is still open: a start for another amount (or a void)
    # may have closed it meanwhile, and then this session must not stay payable.
    stored = CheckoutAttempt.objects.filter(pk=attempt.pk, status=AttemptStatus.OPEN).update(
        provider_id=session.id,
        provider_intent_id=attempt.provider_intent_id,
        checkout_url=attempt.checkout_url,
        updated_at=timezone.now(),
    )
    if not stored:
        _sessions_expire(invoice.company, [(AttemptKind.CHECKOUT, session.id)])
        raise PaymentRefused(
            _("Another payment of this invoice was started meanwhile. Please try again."),
            code="superseded",
        )
    if previous and previous != session.id:
        # The same attempt opened in another language got its own session: one stays open.
        _sessions_expire(invoice.company, [(AttemptKind.CHECKOUT, previous)])
    return attempt


def card_intent_start(
    *, invoice: Invoice, amount: int, locale: str = "en"
) -> tuple[CheckoutAttempt, str]:
    """A PaymentIntent for the card form on the page: the attempt and the client secret that
    Stripe.js confirms in the browser (the secret is never stored). As with Checkout, the
    invoice keeps one open intent: the same amount reuses it, anything else cancels it."""
    attempt, superseded = _attempt_for(
        invoice=invoice, kind=AttemptKind.CARD, amount=amount, locale=locale
    )
    _sessions_expire(invoice.company, superseded)
    if invoice.is_stripe_native:
        return _stripe_invoice_intent_start(invoice, attempt)
    intent = stripe_client.payment_intent_create(
        secret_key=_secret_key(invoice.company),
        amount=amount,
        currency=invoice.currency,
        description=_description(invoice),
        # No Stripe receipt: the customer gets ours for every payment (preferences honoured,
        # in their language, with the PDF), so a card payment never brings two.
        receipt_email=None,
        metadata=_metadata(invoice, attempt),
        idempotency_key=_stripe_key(attempt),
    )
    previous = attempt.provider_id
    attempt.provider_id = attempt.provider_intent_id = intent.id
    # Stored only while the attempt is still open (as for Checkout): another start may have
    # closed it meanwhile, and then this intent must not stay confirmable.
    stored = CheckoutAttempt.objects.filter(pk=attempt.pk, status=AttemptStatus.OPEN).update(
        provider_id=intent.id, provider_intent_id=intent.id, updated_at=timezone.now()
    )
    if not stored:
        _sessions_expire(invoice.company, [(AttemptKind.CARD, intent.id)])
        raise PaymentRefused(
            _("Another payment of this invoice was started meanwhile. Please try again."),
            code="superseded",
        )
    if previous and previous != intent.id:
        # The same attempt opened in another language got its own intent: one stays open.
        _sessions_expire(invoice.company, [(AttemptKind.CARD, previous)])
    return attempt, intent.client_secret or ""


def _stripe_invoice_intent_start(
    invoice: Invoice, attempt: CheckoutAttempt
) -> tuple[CheckoutAttempt, str]:
    """An invoice issued in Stripe is paid the Stripe way: a PaymentIntent for the invoice's
    Stripe customer, attached to the invoice (``invoices.attach_payment``), so Stripe credits
    it and marks it paid; our state follows Stripe's ``invoice.paid``."""
    connection = StripeConnection.objects.filter(company=invoice.company, active=True).first()
    if connection is not None and connection.pay_on_stripe_hosted_page:
        raise PaymentRefused(
            _("This invoice is paid on Stripe's invoice page."), code="pay_on_stripe_page"
        )
    customer_id = invoice.customer.stripe_customer_id
    if not customer_id:
        raise PaymentRefused(
            _("Online payment is not available for this invoice."), code="not_connected"
        )
    intent = stripe_client.invoice_payment_intent_create(
        secret_key=_secret_key(invoice.company),
        invoice_id=invoice.stripe_invoice_id,
        customer_id=customer_id,
        amount=attempt.amount,
        currency=invoice.currency,
        description=_description(invoice),
        metadata=_metadata(invoice, attempt),
        idempotency_key=_stripe_key(attempt),
    )
    attempt.provider_id = attempt.provider_intent_id = intent.id
    attempt.save(update_fields=["provider_id", "provider_intent_id", "updated_at"])
    return attempt, intent.client_secret or ""


def stripe_hosted_page(invoice: Invoice) -> str | None:
    """Where a customer pays an invoice issued in Stripe without the card on our page: the
    invoice's own page on Stripe (None for our invoices, or before Stripe gave one)."""
    if not invoice.is_stripe_native:
        return None
    return invoice.stripe_hosted_url or None


# Reconciling -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PayOutcome:
    """What happened to an attempt, for the success page and the card's polling."""

    state: str  # "succeeded", "processing", "failed", "open", "expired"
    payment: Payment | None = None
    error: str = ""


@dataclass(frozen=True)
class ReceivedPayment:
    """Money received for an invoice: a succeeded PaymentIntent, as the redirect or a webhook
    reported it, or a payment received outside Stripe (``method`` one of OFFLINE_METHODS, no
    ``intent_id``), as staff or the API recorded it."""

    intent_id: str
    amount: int
    currency: str
    invoice_public_id: str
    # Our CheckoutAttempt (from the metadata), when the payment started on our pages.
    attempt_public_id: str = ""
    charge_id: str = ""
    session_id: str = ""
    # Offline payments: the method, when the money arrived (default: now), the bank's or
    # check's reference.
    method: str = ""
    paid_at: dt.datetime | None = None
    reference: str = ""

    @property
    def offline(self) -> bool:
        return self.method in OFFLINE_METHODS


def _attempt_update(
    attempt: CheckoutAttempt, *, status: str, error: str = "", intent_id: str = ""
) -> None:
    CheckoutAttempt.objects.filter(pk=attempt.pk).exclude(status=AttemptStatus.SUCCEEDED).update(
        status=status,
        error=error[:500],
        provider_intent_id=intent_id or attempt.provider_intent_id,
        updated_at=timezone.now(),
    )


def received_from_intent(
    intent: stripe_client.PaymentIntent, session_id: str = ""
) -> ReceivedPayment:
    return ReceivedPayment(
        intent_id=intent.id,
        amount=intent.amount_received or intent.amount,
        currency=intent.currency,
        invoice_public_id=intent.metadata.get("invoice", ""),
        attempt_public_id=intent.metadata.get("attempt", ""),
        charge_id=intent.latest_charge or "",
        session_id=session_id,
    )


def _outcome_of_intent(
    invoice: Invoice, attempt: CheckoutAttempt, intent: stripe_client.PaymentIntent, source: str
) -> PayOutcome:
    if intent.status == "succeeded":
        payment, _created = payment_record(
            company=invoice.company,
            received=received_from_intent(
                intent, attempt.provider_id if attempt.kind == AttemptKind.CHECKOUT else ""
            ),
            source=source,
        )
        return PayOutcome("succeeded", payment)
    if intent.status == "processing":
        _attempt_update(attempt, status=AttemptStatus.PROCESSING, intent_id=intent.id)
        return PayOutcome("processing")
    if intent.status == "canceled":
        _attempt_update(attempt, status=AttemptStatus.EXPIRED, intent_id=intent.id)
        return PayOutcome("expired")
    if intent.last_error:
        # A declined card: the intent can be confirmed again with another card.
        _attempt_update(
            attempt, status=AttemptStatus.OPEN, error=intent.last_error, intent_id=intent.id
        )
        return PayOutcome("failed", error=intent.last_error)
    return PayOutcome("open")


def checkout_reconcile(*, invoice: Invoice, attempt: CheckoutAttempt) -> PayOutcome:
    """After Checkout's redirect: ask Stripe how the session ended and record the payment if
    it succeeded (the webhook may have done it already; either way it counts once)."""
    if not attempt.provider_id:
        return PayOutcome("open")  # Stripe never answered the create call
    secret_key = _secret_key(invoice.company)
    session = stripe_client.checkout_session_retrieve(
        secret_key=secret_key, session_id=attempt.provider_id
    )
    if session.status == "expired":
        _attempt_update(attempt, status=AttemptStatus.EXPIRED)
        return PayOutcome("expired")
    if session.payment_intent is None:
        return PayOutcome("open")
    intent = stripe_client.payment_intent_retrieve(
        secret_key=secret_key, intent_id=session.payment_intent
    )
    return _outcome_of_intent(invoice, attempt, intent, source="redirect")


def card_intent_reconcile(*, invoice: Invoice, attempt: CheckoutAttempt) -> PayOutcome:
    """The card's polling: Stripe's word on the intent, recorded if it succeeded."""
    if not attempt.provider_id:
        return PayOutcome("open")
    intent = stripe_client.payment_intent_retrieve(
        secret_key=_secret_key(invoice.company), intent_id=attempt.provider_id
    )
    return _outcome_of_intent(invoice, attempt, intent, source="redirect")


# Recording -------------------------------------------------------------------------------


def payment_data(payment: Payment, invoice: Invoice) -> dict[str, object]:
    """A payment as outgoing events describe it (public ids, minor units)."""
    return {
        "object": "payment",
        "id": payment.public_id,
        "invoice": invoice.public_id,
        "amount": payment.amount,
        "amount_refunded": payment.amount_refunded,
        "currency": payment.currency,
        "status": payment.status,
        "method": payment.method,
    }


class OfflinePaymentRefused(ApplicationError):
    """An offline payment that cannot be recorded: more than is owed, nothing owed, an invoice
    that is not open (409), or an amount that is not a payment (400)."""

    def __init__(self, code: str, message: str, status: int = 409) -> None:
        super().__init__(code, message, "amount" if code != "not_payable" else None, status)


def _refuse_offline(invoice: Invoice, received: ReceivedPayment) -> None:
    if received.currency != invoice.currency:
        raise OfflinePaymentRefused(
            "currency_mismatch", "The payment's currency is not the invoice's.", 400
        )
    if invoice.status not in PAYABLE_STATUSES:
        raise OfflinePaymentRefused(
            "not_payable", f"The invoice is {invoice.status}: it cannot take payments."
        )
    try:
        offline_amount_check(invoice=invoice, amount=received.amount)
    except AmountError as exc:
        status = 400 if exc.code == "not_positive" else 409
        raise OfflinePaymentRefused(exc.code, exc.message, status) from None


def payment_record(
    *, company: Company, received: ReceivedPayment, source: str, actor: Actor = None
) -> tuple[Payment, bool]:
    """THE function that applies money received to an invoice, online or offline: (the
    payment, whether this call created it).

    Under a row lock on the invoice. A PaymentIntent is recorded once: an existing payment
    for it is returned untouched. Otherwise the payment is stored, the invoice's amount_paid
    grows, and an invoice paid in full becomes ``paid`` (with its status-change row).

    Stripe's money is real whatever our rules say: a payment for more than is owed (two tabs,
    an invoice already paid or void, another currency) is recorded whole and flagged for
    staff, counts up to what is owed, and its surplus is refunded through Stripe (a task, once
    this commits) or kept as a credit note, as the company chose; a void invoice's or another
    currency's is always refunded. An offline payment is what staff type: it is refused
    (OfflinePaymentRefused) when it is more than is owed or the invoice is not open, and then
    nothing changes.
    """
    if not received.offline and received.intent_id:
        # Told again (the session and its PaymentIntent both say it; Stripe's retries): the
        # committed payment answers without a transaction or a lock.
        recorded = Payment.objects.filter(provider_payment_intent_id=received.intent_id).first()
        if recorded is not None:
            return recorded, False
    with transaction.atomic():
        # Only the invoice's row is locked: locking its company's too would make every payment
        # of a company wait for the one before (webhooks are processed two at a time). The
        # customer is read in the same query for the status change that follows; the company
        # is the caller's (it is not locked either way, so reading it again adds nothing).
        invoice = (
            Invoice.objects.select_for_update(of=("self",))
            .select_related("customer")
            .get(company=company, public_id=received.invoice_public_id)
        )
        invoice.company = company
        flagged, reason = False, ""
        surplus, handling = 0, ""
        attempt = None
        if received.offline:
            _refuse_offline(invoice, received)
            method = received.method
        else:
            existing = Payment.objects.filter(provider_payment_intent_id=received.intent_id).first()
            if existing is not None:
                return existing, False
            flagged, reason = _stripe_payment_flag(invoice, received)
            surplus = received.amount - _owed(invoice, received)
            if surplus > 0:
                flagged = True
                reason = reason or "More than was owed."
                handling = _surplus_handling(invoice, received)
            attempt = (
                CheckoutAttempt.objects.filter(
                    invoice=invoice, public_id=received.attempt_public_id
                ).first()
                if received.attempt_public_id
                else None
            )
            method = attempt.kind if attempt else PaymentMethod.CARD
            if received.session_id:
                method = PaymentMethod.CHECKOUT
        try:
            with transaction.atomic():
                payment = Payment.objects.create(
                    company=company,
                    invoice=invoice,
                    amount=received.amount,
                    currency=received.currency,
                    provider_payment_intent_id=received.intent_id or None,
                    provider_charge_id=received.charge_id,
                    provider_checkout_session_id=received.session_id,
                    method=method,
                    source=source,
                    paid_at=received.paid_at or timezone.now(),
                    reference=received.reference[:200],
                    recorded_by=acting_user(actor),
                    flagged_overpayment=flagged,
                    review_reason=reason[:300],
                    surplus=max(surplus, 0),
                    surplus_handling=handling,
                )
        except IntegrityError:
            # Belt and braces: the lock already serialises payments of one invoice.
            return Payment.objects.get(provider_payment_intent_id=received.intent_id), False
        applied = received.amount - payment.surplus
        invoice.amount_paid += applied
        pays_off = invoice.status in PAYABLE_STATUSES and invoice.amount_due <= 0
        # An invoice this pays off gets its new amount_paid in the same UPDATE as its status
        # (below); otherwise, or with a surplus (its credit note reads the invoice), now.
        amount_unsaved = bool(applied) and pays_off and not payment.surplus
        if applied and not amount_unsaved:
            invoice.save(update_fields=["amount_paid", "updated_at"])
        if attempt is not None:
            CheckoutAttempt.objects.filter(pk=attempt.pk).update(
                status=AttemptStatus.SUCCEEDED,
                provider_intent_id=received.intent_id,
                error="",
                updated_at=timezone.now(),
            )
        events.record(
            company=company,
            action="payment.recorded",
            object_id=payment.public_id,
            actor=actor,
            invoice=invoice.public_id,
            amount=payment.amount,
            currency=payment.currency,
            method=method,
            source=source,
            flagged_overpayment=flagged,
            applied=applied,
            surplus=payment.surplus,
        )
        if payment.surplus:
            _surplus_dispose(invoice=invoice, payment=payment, actor=actor)
        event_emit(
            company=company,
            type="payment.succeeded",
            object_id=payment.public_id,
            data={**payment_data(payment, invoice), "source": source},
        )
        if pays_off:
            # The row is locked and was read under the lock above: not locked and read again.
            invoice_transition_locked(
                invoice=invoice,
                to_status=InvoiceStatus.PAID,
                actor=actor,
                reason=(
                    f"Paid by {payment.get_method_display()} ({payment.public_id})"
                    if received.offline
                    else f"Paid online ({payment.public_id})"
                ),
                also_save=("amount_paid",) if amount_unsaved else (),
            )
        if flagged:
            logger.warning(
                "payment.flagged payment=%s invoice=%s reason=%s",
                payment.public_id,
                invoice.public_id,
                reason,
            )
        return payment, True


def _owed(invoice: Invoice, received: ReceivedPayment) -> int:
    """How much of a Stripe payment the (locked) invoice can take: what it still owes, if it
    takes payments in that currency."""
    if received.currency != invoice.currency or invoice.status not in PAYABLE_STATUSES:
        return 0
    return min(received.amount, max(invoice.amount_due, 0))


def _surplus_handling(invoice: Invoice, received: ReceivedPayment) -> str:
    """Refund or credit, as the company chose; a void invoice's payment, or one in another
    currency, is refunded whole (there is nothing the customer owes that credit could meet)."""
    if received.currency != invoice.currency or invoice.status == InvoiceStatus.VOID:
        return OverpaymentHandling.REFUND
    chosen = (
        StripeConnection.objects.filter(company_id=invoice.company_id)
        .values_list("overpayment_handling", flat=True)
        .first()
    )
    return chosen or OverpaymentHandling.REFUND


def _surplus_dispose(*, invoice: Invoice, payment: Payment, actor: Actor) -> None:
    """The surplus of a payment just recorded (locks held): a credit note at once, or a Stripe
    refund queued for when this commits. Audited either way."""
    if payment.surplus_handling == OverpaymentHandling.CREDIT:
        note = credit_note_create(
            company=invoice.company,
            customer=invoice.customer,
            currency=payment.currency,
            amount=payment.surplus,
            reason=f"Overpayment {payment.public_id} of invoice {invoice.number}",
            invoice=invoice,
            actor=actor,
        )
        payment.surplus_credit_note = note
        payment.save(update_fields=["surplus_credit_note", "updated_at"])
    else:
        transaction.on_commit(_surplus_refund_queuer(payment.pk), robust=True)
    events.record(
        company=invoice.company,
        action="payment.overpaid",
        object_id=payment.public_id,
        actor=actor,
        invoice=invoice.public_id,
        amount=payment.amount,
        surplus=payment.surplus,
        currency=payment.currency,
        handling=payment.surplus_handling,
        credit_note=payment.surplus_credit_note.public_id if payment.surplus_credit_note else "",
    )


def _surplus_refund_queuer(payment_pk: int) -> Callable[[], None]:
    # A named function, not a functools.partial: Django's robust on_commit logs the callback's
    # name when it fails (the broker is down), and a partial has none.
    def queue_surplus_refund() -> None:
        payment_surplus_refund_task.apply_async((payment_pk,), ignore_result=True)

    return queue_surplus_refund


def payment_surplus_refund(*, payment_pk: int) -> str:
    """Refund a payment's surplus through Stripe, once (a fixed idempotency key; the refund id
    stored), and record it from Stripe's running total: the Refund row, which leaves the
    invoice's amount_paid alone. Returns the refund id ("" when there is nothing to refund).
    Stripe's refusal is audited and left to staff (the payment stays flagged "to refund"); an
    outage raises ProviderUnavailable for the task to retry."""
    payment = Payment.objects.select_related("company", "invoice").get(pk=payment_pk)
    if (
        payment.surplus <= 0
        or payment.surplus_handling != OverpaymentHandling.REFUND
        or payment.surplus_refund_id
        or not payment.provider_payment_intent_id
    ):
        return payment.surplus_refund_id
    try:
        result = stripe_client.refund_create(
            secret_key=_secret_key(payment.company),
            intent_id=payment.provider_payment_intent_id,
            amount=payment.surplus,
            idempotency_key=f"invoice-portal-surplus-{payment.public_id}",
        )
    except stripe_client.ProviderUnavailable:
        raise
    except stripe_client.PaymentProviderError as exc:
        logger.error(
            "payment.surplus_refund_failed payment=%s code=%s", payment.public_id, exc.code
        )
        events.record(
            company=payment.company,
            action="payment.surplus_refund_failed",
            object_id=payment.public_id,
            invoice=payment.invoice.public_id,
            amount=payment.surplus,
            error=exc.code,
        )
        return ""
    Payment.objects.filter(pk=payment.pk, surplus_refund_id="").update(
        surplus_refund_id=result.id, updated_at=timezone.now()
    )
    payment_refund_record(
        company=payment.company,
        intent_id=payment.provider_payment_intent_id,
        amount_refunded=result.charge_amount_refunded,
        provider_refund_id=result.id,
    )
    events.record(
        company=payment.company,
        action="payment.surplus_refunded",
        object_id=payment.public_id,
        invoice=payment.invoice.public_id,
        amount=payment.surplus,
        currency=payment.currency,
        refund=result.id,
    )
    return result.id


def payments_surplus_unrefunded(*, older_than: dt.timedelta) -> list[int]:
    """Payments whose surplus is still to be refunded (the queued task was lost), for the
    periodic pick-up."""
    return list(
        Payment.objects.filter(
            surplus__gt=0,
            surplus_handling=OverpaymentHandling.REFUND,
            surplus_refund_id="",
            created_at__lt=timezone.now() - older_than,
        ).values_list("pk", flat=True)[:500]
    )


def _stripe_payment_flag(invoice: Invoice, received: ReceivedPayment) -> tuple[bool, str]:
    """Whether a payment Stripe reports needs staff review, and why."""
    if received.currency != invoice.currency:
        return True, f"Paid in {received.currency}, invoiced in {invoice.currency}."
    if invoice.status not in PAYABLE_STATUSES:
        return received.amount > 0, f"Received while the invoice was {invoice.status}."
    try:
        payment_amount_check(invoice=invoice, amount=received.amount)
    except AmountError as exc:
        if exc.code in ("over_amount_due", "nothing_due"):
            return True, exc.message
        # Other rule breaks (a partial under the minimum) cannot come from our forms; the
        # money is real all the same, so record it and log why.
        logger.info(
            "payment.rule_break invoice=%s intent=%s code=%s",
            invoice.public_id,
            received.intent_id,
            exc.code,
        )
    return False, ""


def payment_record_offline(
    *,
    invoice: Invoice,
    amount: int,
    method: str,
    paid_at: dt.datetime | None = None,
    reference: str = "",
    source: str = "api",
    actor: Actor = None,
) -> Payment:
    """Record money received outside Stripe (bank transfer, cash, check, other) through
    payment_record, under the same row lock: never more than is still owed."""
    if method not in OFFLINE_METHODS:
        raise OfflinePaymentRefused(
            "invalid_method", "The method must be bank_transfer, cash, check or other.", 400
        )
    payment, _created = payment_record(
        company=invoice.company,
        received=ReceivedPayment(
            intent_id="",
            amount=amount,
            currency=invoice.currency,
            invoice_public_id=invoice.public_id,
            method=method,
            paid_at=paid_at,
            reference=reference,
        ),
        source=source,
        actor=actor,
    )
    return payment


class RefundRefused(ApplicationError):
    """A refund that cannot be made: nothing left to refund, or more than is left (409), or
    an amount that is not a refund (400)."""

    def __init__(self, code: str, message: str, status: int = 409) -> None:
        super().__init__(code, message, "amount", status)


def _refund_apply(
    *,
    invoice: Invoice,
    payment: Payment,
    delta: int,
    actor: Actor = None,
    provider_refund_id: str = "",
) -> Refund:
    """Apply ``delta`` more refunded on ``payment`` (both rows locked by the caller): a refund
    row, the payment's running total and status, the invoice's amount_paid; a paid invoice
    that owes something again reopens (with its status-change row). A surplus to refund is
    given back first and never counted toward the invoice, so it leaves amount_paid alone."""
    shield = payment.surplus_refundable
    counted_before = max(payment.amount_refunded - shield, 0)
    payment.amount_refunded += delta
    counted = max(payment.amount_refunded - shield, 0) - counted_before
    payment.status = (
        PaymentStatus.REFUNDED
        if payment.amount_refunded >= payment.amount
        else PaymentStatus.PARTIALLY_REFUNDED
    )
    payment.save(update_fields=["amount_refunded", "status", "updated_at"])
    refund = Refund.objects.create(
        company_id=payment.company_id,
        payment=payment,
        amount=delta,
        currency=payment.currency,
        provider_refund_id=provider_refund_id,
        actor=acting_user(actor),
    )
    if counted and payment.currency == invoice.currency:
        invoice.amount_paid = max(invoice.amount_paid - counted, 0)
        invoice.save(update_fields=["amount_paid", "updated_at"])
        if invoice.status == InvoiceStatus.PAID and invoice.amount_due > 0:
            invoice_transition(
                invoice=invoice,
                to_status=InvoiceStatus.OPEN,
                actor=actor,
                reason=f"Refunded {refund.public_id} on {payment.public_id}",
            )
    events.record(
        company=invoice.company,
        action="payment.refunded",
        object_id=payment.public_id,
        actor=actor,
        invoice=invoice.public_id,
        refund=refund.public_id,
        amount=delta,
    )
    event_emit(
        company=invoice.company,
        type="payment.refunded",
        object_id=payment.public_id,
        data={**payment_data(payment, invoice), "amount_refunded_now": delta},
    )
    return refund


def _locked(payment: Payment) -> tuple[Invoice, Payment]:
    # Always the invoice first, then the payment: the same order as payment_record.
    invoice = (
        Invoice.objects.select_for_update().select_related("company").get(pk=payment.invoice_id)
    )
    return invoice, Payment.objects.select_for_update().get(pk=payment.pk)


def payment_refund_record(
    *, company: Company, intent_id: str, amount_refunded: int, provider_refund_id: str = ""
) -> Payment | None:
    """Apply Stripe's running total of refunds for a payment (from charge.refunded, or read
    back right after we asked for a refund). Taking the total, not a delta, makes repeated and
    reordered reports harmless: each refunded unit is recorded once."""
    with transaction.atomic():
        payment = Payment.objects.filter(
            company=company, provider_payment_intent_id=intent_id
        ).first()
        if payment is None:
            return None
        invoice, payment = _locked(payment)
        delta = min(amount_refunded, payment.amount) - payment.amount_refunded
        if delta > 0:
            _refund_apply(
                invoice=invoice,
                payment=payment,
                delta=delta,
                provider_refund_id=provider_refund_id,
            )
        return payment


def _refundable(payment: Payment, amount: int | None) -> int:
    # A surplus kept as credit is not refundable here: the credit note holds it.
    left = payment.amount_refundable
    if left <= 0:
        raise RefundRefused("already_refunded", "This payment has been refunded in full.")
    if amount is None:
        return left
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise RefundRefused("not_positive", "Enter an amount greater than zero.", 400)
    if amount > left:
        raise RefundRefused(
            "over_refundable",
            f"At most {format_money(left, payment.currency, 'en')} can still be refunded.",
        )
    return amount


def payment_refund(*, payment: Payment, amount: int | None = None, actor: Actor = None) -> Payment:
    """Refund ``amount`` (default: all not yet refunded) of a payment. A Stripe payment is
    refunded through Stripe, then recorded from Stripe's running total (the charge.refunded
    webhook finds it done); an offline payment is recorded here. The invoice reopens when it
    owes something again.

    A payment on a void invoice is not refunded here: voiding either refunded it already or
    turned it into a credit note, and refunding it as well would pay the customer twice
    (money arriving after a void is refunded whole on its own)."""
    if Invoice.objects.filter(pk=payment.invoice_id, status=InvoiceStatus.VOID).exists():
        raise RefundRefused(
            "invoice_void",
            "This invoice was voided and its payments kept as customer credit: "
            "void or refund through the credit note instead.",
        )
    if payment.attempt_id is not None:
        from payments.multipay import share_refund  # the module builds on this one

        return share_refund(payment=payment, amount=amount, actor=actor)
    if payment.provider_payment_intent_id:
        wanted = _refundable(payment, amount)
        result = stripe_client.refund_create(
            secret_key=_secret_key(payment.company),
            intent_id=payment.provider_payment_intent_id,
            amount=wanted,
            # One refund per payment, amount and state: a retried request refunds once.
            idempotency_key=(
                f"invoice-portal-refund-{payment.public_id}-{payment.amount_refunded}-{wanted}"
            ),
        )
        events.record(
            company=payment.company,
            action="payment.refund_requested",
            object_id=payment.public_id,
            actor=actor,
            refund=result.id,
            amount=result.amount,
        )
        recorded = payment_refund_record(
            company=payment.company,
            intent_id=payment.provider_payment_intent_id,
            amount_refunded=result.charge_amount_refunded,
            provider_refund_id=result.id,
        )
        return recorded or payment
    with transaction.atomic():
        invoice, locked = _locked(payment)
        _refund_apply(
            invoice=invoice, payment=locked, delta=_refundable(locked, amount), actor=actor
        )
        return locked


def attempt_mark(*, company: Company, provider_id: str, status: str, error: str = "") -> int:
    """Webhook news about an attempt that produced no payment (expired, declined)."""
    return (
        CheckoutAttempt.objects.filter(company=company)
        .filter(provider_id=provider_id)
        .exclude(status=AttemptStatus.SUCCEEDED)
        .update(status=status, error=error[:500], updated_at=timezone.now())
    )


def connection_webhook_secret(connection: StripeConnection) -> str:
    return decrypt_secret(connection.webhook_secret_encrypted)


def public_base_url() -> str:
    return settings.PUBLIC_BASE_URL


def invoice_void(
    *, invoice: Invoice, payments: str | None = None, actor: Actor = None, reason: str = ""
) -> Invoice:
    """Void an invoice, the one way the admin and the API do it. Money paid on it is never
    stranded: ``payments="refund"`` refunds every payment in full first (online ones through
    Stripe, offline ones recorded), ``payments="credit"`` keeps it as a credit note for the
    customer; without a choice an invoice with payments is refused (409) and nothing changes.

    Refunds are made before the status changes (Stripe is not called under a row lock); if one
    fails, the ones made stay recorded, the invoice stays as it was and owes them again."""
    if payments is not None and payments not in invoice_services.VOID_PAYMENTS_CHOICES:
        raise invoice_services.Invalid('Choose "refund" or "credit" for the payments.', "payments")
    current = Invoice.objects.get(pk=invoice.pk)
    if payments == invoice_services.VOID_PAYMENTS_REFUND and current.amount_paid > 0:
        check_transition(current.status, InvoiceStatus.VOID)  # refuse before refunding anything
        for payment in Payment.objects.filter(invoice=current).select_related("company"):
            if payment.amount_refunded < payment.amount:
                payment_refund(payment=payment, actor=actor)
    voided = invoice_services.invoice_void(
        invoice=invoice,
        actor=actor,
        reason=reason,
        payments=None if payments == invoice_services.VOID_PAYMENTS_REFUND else payments,
    )
    # Nothing may be paid any more: its open Checkout Sessions close, in Stripe too.
    invoice_checkouts_expire(invoice=voided, actor=actor)
    return voided
