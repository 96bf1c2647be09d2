from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from invoices.ids import new_public_id
from invoices.totals import amount_due

from .company import Company
from .customer import Customer


def new_invoice_id() -> str:
    return new_public_id("inv")


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    OPEN = "open", _("Open")
    PAID = "paid", _("Paid")
    VOID = "void", _("Void")
    UNCOLLECTIBLE = "uncollectible", _("Uncollectible")


class Invoice(models.Model):
    """An invoice. Amounts are integers in the currency's minor unit (cents, yen, fils)."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="invoices")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="invoices")
    public_id = models.CharField(max_length=32, unique=True, default=new_invoice_id)
    number = models.CharField(max_length=40)
    sequence = models.PositiveIntegerField()
    status = models.CharField(
        max_length=16, choices=InvoiceStatus.choices, default=InvoiceStatus.DRAFT
    )
    currency = models.CharField(max_length=3)
    issue_date = models.DateField()
    due_date = models.DateField()
    notes = models.TextField(blank=True)
    # For staff only: never on the document, so it may change after issue.
    internal_notes = models.TextField(blank=True)
    allow_partial_payments = models.BooleanField(default=False)
    # Minor units; the smallest partial payment accepted (null: the currency's Stripe minimum).
    minimum_payment = models.BigIntegerField(null=True, blank=True)

    # Minor units, recomputed from the lines by invoices.totals through services only.
    subtotal = models.BigIntegerField(default=0)
    tax_total = models.BigIntegerField(default=0)
    total = models.BigIntegerField(default=0)
    # Minor units; changed only by payments.services under a row lock on this invoice.
    amount_paid = models.BigIntegerField(default=0)
    # Minor units of credit notes applied (CreditApplication rows not reversed); changed only
    # by invoices.services under a row lock on this invoice.
    amount_credited = models.BigIntegerField(default=0)

    # What the issued document says of the parties, frozen at finalization (see
    # invoices.document.party_snapshots): editing the customer or the company later never
    # rewrites an issued invoice. Empty on drafts, which show the live details.
    buyer_snapshot = models.JSONField(default=dict, blank=True)
    seller_snapshot = models.JSONField(default=dict, blank=True)

    # A customer comment waits for staff (set by comments, cleared when staff resolve it).
    needs_attention = models.BooleanField(default=False)
    # Blank: the company's default comment write mode.
    comment_write_mode = models.CharField(max_length=20, blank=True)

    # Invoices issued in the company's Stripe account (payments.stripe_sync): Stripe's id, the
    # subscription it bills (blank for one-off invoices), why Stripe created it, its hosted
    # page, and when we last read it from Stripe (a copy read earlier never overwrites it).
    # Blank on the invoices issued here.
    stripe_invoice_id = models.CharField(max_length=255, blank=True, default="")
    stripe_subscription_id = models.CharField(max_length=255, blank=True, default="")
    stripe_billing_reason = models.CharField(max_length=40, blank=True, default="")
    stripe_hosted_url = models.CharField(max_length=2000, blank=True, default="")
    stripe_synced_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finalized_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-issue_date", "-sequence"]
        constraints = [
            models.UniqueConstraint(fields=["company", "sequence"], name="invoice_unique_sequence"),
            models.UniqueConstraint(fields=["company", "number"], name="invoice_unique_number"),
            models.UniqueConstraint(
                fields=["company", "stripe_invoice_id"],
                condition=~models.Q(stripe_invoice_id=""),
                name="invoice_unique_stripe_id",
            ),
        ]
        indexes = [
            models.Index(fields=["company", "status"], name="invoice_company_status"),
            models.Index(
                fields=["customer", "status", "-issue_date"], name="invoice_customer_status"
            ),
            models.Index(fields=["company", "due_date"], name="invoice_company_due"),
            # The embed's list scoped to one subscription.
            models.Index(
                fields=["customer", "stripe_subscription_id", "-issue_date"],
                name="invoice_customer_subscription",
                condition=~models.Q(stripe_subscription_id=""),
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def amount_due(self) -> int:
        # A void invoice is owed by nobody: nothing is due on it anywhere a customer looks
        # (page, portal, embed, emails), whatever was paid before it was voided.
        if self.status == InvoiceStatus.VOID:
            return 0
        return amount_due(
            total=self.total, amount_paid=self.amount_paid, amount_credited=self.amount_credited
        )

    @property
    def is_stripe_native(self) -> bool:
        """Issued in the company's Stripe account: Stripe keeps its state and takes its
        payments (see payments.stripe_sync)."""
        return bool(self.stripe_invoice_id)

    @property
    def is_partly_paid(self) -> bool:
        settled = self.amount_paid + self.amount_credited
        return self.status == InvoiceStatus.OPEN and 0 < settled < self.total


class InvoiceStatusChange(models.Model):
    """One row per status transition: who moved the invoice from what to what, and when."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=16, choices=InvoiceStatus.choices)
    to_status = models.CharField(max_length=16, choices=InvoiceStatus.choices)
    changed_at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["changed_at", "id"]

    def __str__(self) -> str:
        return f"{self.invoice}: {self.from_status} → {self.to_status}"


class LineItem(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField(default=0)
    description = models.CharField(max_length=500)
    quantity = models.DecimalField(max_digits=12, decimal_places=3, default=1)
    # Minor units.
    unit_amount = models.BigIntegerField()
    # Percent, e.g. 19.000 for 19 %.
    tax_rate = models.DecimalField(max_digits=6, decimal_places=3, default=0)
    # Minor units, derived by invoices.totals.line_amounts when the line is saved by a service.
    amount = models.BigIntegerField(default=0)
    tax_amount = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.description
