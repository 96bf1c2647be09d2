"""Payments: each company's Stripe connection, payments, checkout attempts and stored webhook
events. Amounts are integers in the currency's minor unit (see invoices.money)."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from invoices.ids import new_public_id
from invoices.models import Company, CreditNote, Customer, Invoice


def new_webhook_key() -> str:
    # Names the company in its webhook URL (/webhooks/stripe/<key>); not a secret by itself,
    # every delivery is still verified with the company's signing secret.
    return "wh_" + secrets.token_urlsafe(18)


def new_payment_id() -> str:
    return new_public_id("pay")


def new_attempt_id() -> str:
    return new_public_id("att")


class OverpaymentHandling(models.TextChoices):
    REFUND = "refund", _("Refund the surplus through Stripe")
    CREDIT = "credit", _("Keep the surplus as customer credit (a credit note)")


class StripeConnection(models.Model):
    """A company's own Stripe account. Secrets are stored encrypted (payments.crypto) and are
    never shown again after saving."""

    company = models.OneToOneField(
        Company, on_delete=models.CASCADE, related_name="stripe_connection"
    )
    secret_key_encrypted = models.TextField()
    webhook_secret_encrypted = models.TextField()
    # The last characters of the secret key, so staff can tell which key is connected.
    secret_key_hint = models.CharField(max_length=12, blank=True)
    publishable_key = models.CharField(max_length=200, blank=True)
    webhook_key = models.CharField(max_length=40, unique=True, default=new_webhook_key)
    active = models.BooleanField(default=True)
    # What becomes of the part of a Stripe payment beyond what the invoice still owed (two
    # tabs, an old session): never kept silently. A void invoice's payment is always refunded.
    overpayment_handling = models.CharField(
        max_length=10, choices=OverpaymentHandling.choices, default=OverpaymentHandling.REFUND
    )
    # Invoices issued in Stripe: Pay sends the customer to Stripe's hosted invoice page instead
    # of taking the card here (a PaymentIntent attached to the invoice).
    pay_on_stripe_hosted_page = models.BooleanField(
        default=False,
        help_text=_("Invoices created in Stripe are paid on Stripe's hosted invoice page."),
    )
    # The Stripe account (acct_…) the key belongs to, read by Stripe sync; events naming
    # another account are not ours.
    stripe_account_id = models.CharField(max_length=255, blank=True, default="")
    # Set by the first import (stripe_sync): from then on Stripe's webhooks and the periodic
    # reconciliation keep the company's Stripe invoices in sync. The reconciliation reads
    # Stripe's events from here on.
    sync_enabled_at = models.DateTimeField(null=True, blank=True)
    sync_reconciled_at = models.DateTimeField(null=True, blank=True)
    connected_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Stripe for {self.company} (…{self.secret_key_hint})"


class SyncCheckpoint(models.Model):
    """Where an import from Stripe stopped: the last object of a list it finished
    (``starting_after``), so that an interrupted ``stripe_sync`` resumes there. Removed when
    the list is done; a finished import starts again from the newest object (and changes
    nothing it already holds)."""

    connection = models.ForeignKey(
        StripeConnection, on_delete=models.CASCADE, related_name="sync_checkpoints"
    )
    # "customers", "invoices" or "credit_notes".
    resource = models.CharField(max_length=20)
    since = models.DateField(null=True, blank=True)
    starting_after = models.CharField(max_length=255, blank=True)
    done = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "resource"], name="sync_checkpoint_once_per_resource"
            )
        ]

    def __str__(self) -> str:
        return f"{self.resource} after {self.starting_after or '-'}"


class AttemptKind(models.TextChoices):
    CHECKOUT = "checkout", _("Stripe Checkout")
    CARD = "card", _("Card on the page")


class AttemptStatus(models.TextChoices):
    OPEN = "open", _("Open")
    PROCESSING = "processing", _("Processing")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    EXPIRED = "expired", _("Expired")


class AttemptPurpose(models.TextChoices):
    INVOICE = "invoice", _("One invoice")
    INVOICES = "invoices", _("Several invoices")
    ADVANCE = "advance", _("Advance payment")


class CheckoutAttempt(models.Model):
    """One try to pay: an amount of one invoice, several invoices at once (``plan``: the
    allocation, oldest first), or an advance payment that becomes the customer's credit; a
    Checkout Session or a PaymentIntent.

    Its ``idempotency_key`` is written *before* Stripe is called, so a double click, a retry
    after a timeout or a second tab asking for the same amount reuses the same Stripe object.
    """

    public_id = models.CharField(max_length=32, unique=True, default=new_attempt_id)
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    # Null for several invoices (see ``plan``) and for advance payments.
    invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.CASCADE, related_name="pay_attempts"
    )
    purpose = models.CharField(
        max_length=10, choices=AttemptPurpose.choices, default=AttemptPurpose.INVOICE
    )
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # Several invoices: [{"invoice": "inv_…", "number": "…", "amount": minor units}, …] in
    # allocation order (oldest due first); applied once, when the payment succeeds.
    plan = models.JSONField(default=list, blank=True)
    # Credit applied when the attempt started, before the card was asked for the rest:
    # [{"invoice": "inv_…", "credit_note": "cn_…", "amount": minor units}, …].
    credit_applied = models.JSONField(default=list, blank=True)
    # Filled in when the payment is applied (under the invoices' locks): the part that found
    # nothing owed any more (an invoice paid meanwhile), kept as the customer's credit; and the
    # credit note holding it, or an advance payment's whole amount.
    surplus = models.BigIntegerField(default=0)
    credit_note = models.ForeignKey(
        CreditNote, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Stripe's running total of refunds of a multi-invoice payment, as recorded, and the
    # shares refunds were asked for but not yet recorded ({"key", "payment", "amount"}).
    amount_refunded = models.BigIntegerField(default=0)
    refund_targets = models.JSONField(default=list, blank=True)
    kind = models.CharField(max_length=10, choices=AttemptKind.choices)
    # Minor units.
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    # The invoice's amount_paid when the attempt started: a payment in between makes a new one.
    amount_paid_before = models.BigIntegerField()
    idempotency_key = models.CharField(max_length=80, unique=True)
    # cs_… for Checkout, pi_… for the card; blank until Stripe answered.
    provider_id = models.CharField(max_length=255, blank=True, db_index=True)
    provider_intent_id = models.CharField(max_length=255, blank=True, db_index=True)
    checkout_url = models.URLField(max_length=2000, blank=True)
    status = models.CharField(
        max_length=12, choices=AttemptStatus.choices, default=AttemptStatus.OPEN
    )
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["invoice", "status"], name="attempt_invoice_status")]

    def __str__(self) -> str:
        return f"{self.kind} {self.provider_id or self.public_id}"


class PaymentStatus(models.TextChoices):
    SUCCEEDED = "succeeded", _("Succeeded")
    PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")
    REFUNDED = "refunded", _("Refunded")


class PaymentMethod(models.TextChoices):
    CHECKOUT = "checkout", _("Stripe Checkout")
    CARD = "card", _("Card on the page")
    BANK_TRANSFER = "bank_transfer", _("Bank transfer")
    CASH = "cash", _("Cash")
    CHECK = "check", _("Check")
    OTHER = "other", _("Other")


# Recorded by staff or the API for money received outside Stripe.
OFFLINE_METHODS = (
    PaymentMethod.BANK_TRANSFER,
    PaymentMethod.CASH,
    PaymentMethod.CHECK,
    PaymentMethod.OTHER,
)


class Payment(models.Model):
    """Money received for an invoice: one row per succeeded PaymentIntent, never two (the
    unique provider id), whether the redirect, the webhook or both reported it; or money
    received outside Stripe (a bank transfer, cash, a check), recorded by staff or the API,
    with no provider id."""

    public_id = models.CharField(max_length=32, unique=True, default=new_payment_id)
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="payments")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments")
    # A share of a payment of several invoices: the attempt holds the Stripe payment and the
    # plan; each invoice's share is a payment of its own (without the PaymentIntent id, which
    # stays unique to single-invoice payments).
    attempt = models.ForeignKey(
        CheckoutAttempt, null=True, blank=True, on_delete=models.PROTECT, related_name="shares"
    )
    # Minor units.
    amount = models.BigIntegerField()
    amount_refunded = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3)
    status = models.CharField(
        max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.SUCCEEDED
    )
    # Null for offline payments (PostgreSQL and SQLite allow many NULLs under UNIQUE).
    provider_payment_intent_id = models.CharField(
        max_length=255, unique=True, null=True, blank=True
    )
    provider_charge_id = models.CharField(max_length=255, blank=True)
    provider_checkout_session_id = models.CharField(max_length=255, blank=True)
    method = models.CharField(max_length=20, choices=PaymentMethod.choices)
    # What told us first: "webhook" or "redirect" (the success page or the card's polling),
    # "api" or "admin" for offline payments.
    source = models.CharField(max_length=10)
    # When the money was received (the date statements use); for offline payments what staff
    # say, else when we learnt of it.
    paid_at = models.DateTimeField(default=timezone.now)
    # The bank's or check's reference, for offline payments.
    reference = models.CharField(max_length=200, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # More than was still due when it arrived (two tabs, a paid or void invoice): the amount
    # owed is applied, the rest (``surplus``) refunded or credited, and shown to staff.
    flagged_overpayment = models.BooleanField(default=False)
    review_reason = models.CharField(max_length=300, blank=True)
    # Minor units: the part of ``amount`` beyond what the invoice still owed when it arrived.
    # It never counts toward the invoice's amount_paid.
    surplus = models.BigIntegerField(default=0)
    # OverpaymentHandling chosen when it arrived ("" without a surplus).
    surplus_handling = models.CharField(
        max_length=10, choices=OverpaymentHandling.choices, blank=True
    )
    # Stripe's refund of the surplus (re_…), once made.
    surplus_refund_id = models.CharField(max_length=255, blank=True)
    # The credit note that keeps the surplus for the customer.
    surplus_credit_note = models.ForeignKey(
        CreditNote, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["invoice", "-created_at"], name="payment_invoice_time"),
            models.Index(fields=["company", "flagged_overpayment"], name="payment_company_flagged"),
        ]
        constraints = [
            # A payment of several invoices gives each invoice one share, never two.
            models.UniqueConstraint(
                fields=["attempt", "invoice"],
                condition=models.Q(attempt__isnull=False),
                name="payment_one_share_per_invoice",
            )
        ]

    def __str__(self) -> str:
        return self.public_id

    @property
    def surplus_refundable(self) -> int:
        """The part of the surplus that refunds give back first without touching the invoice
        (none when it was kept as credit: the credit note holds it)."""
        return self.surplus if self.surplus_handling == OverpaymentHandling.REFUND else 0

    @property
    def amount_refundable(self) -> int:
        credited = self.surplus if self.surplus_handling == OverpaymentHandling.CREDIT else 0
        return max(self.amount - credited - self.amount_refunded, 0)


def new_refund_id() -> str:
    return new_public_id("rfd")


class Refund(models.Model):
    """Money given back on a payment: one row per refund, so statements show each on its day.
    Written only by payments.services under the invoice's row lock. Minor units."""

    public_id = models.CharField(max_length=32, unique=True, default=new_refund_id)
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    refunded_at = models.DateTimeField(default=timezone.now)
    # Stripe's re_… when Stripe refunded it and told us which; blank for offline payments.
    provider_refund_id = models.CharField(max_length=255, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["refunded_at", "id"]
        indexes = [models.Index(fields=["payment", "refunded_at"], name="refund_payment_time")]

    def __str__(self) -> str:
        return self.public_id


class WebhookEventStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    PROCESSING = "processing", _("Processing")
    PROCESSED = "processed", _("Processed")
    IGNORED = "ignored", _("Ignored (type not handled)")
    FAILED = "failed", _("Failed")


class WebhookEvent(models.Model):
    """A verified Stripe event, stored before we answer 200 so that nothing is lost; processed
    in Celery, retried by a periodic task while pending or failed."""

    connection = models.ForeignKey(
        StripeConnection, on_delete=models.CASCADE, related_name="events"
    )
    # Unique per connection, not overall: two companies connected to one Stripe account each
    # receive the same event (same id) at their own endpoint, and each must keep its copy.
    event_id = models.CharField(max_length=255)
    type = models.CharField(max_length=100)
    payload = models.JSONField()
    status = models.CharField(
        max_length=12, choices=WebhookEventStatus.choices, default=WebhookEventStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    # Which drain takes the event first (its remainder by the number of drains): derived from
    # the invoice the event is about (or its object), so that the events of one invoice go to
    # one drain and two drains do not wait on each other's invoice locks.
    drain_key = models.SmallIntegerField(default=0, db_default=0)

    class Meta:
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["status", "received_at"], name="webhook_status_time")]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "event_id"], name="webhook_event_once_per_connection"
            )
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"
