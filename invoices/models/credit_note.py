from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from invoices.ids import new_public_id

from .company import Company
from .customer import Customer
from .invoice import Invoice


def new_credit_note_id() -> str:
    return new_public_id("cn")


class CreditNoteStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ISSUED = "issued", _("Issued")
    VOID = "void", _("Void")


class CreditNote(models.Model):
    """Credit owed to a customer. Amounts in minor units; only issued notes count as credit."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="credit_notes")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="credit_notes")
    public_id = models.CharField(max_length=32, unique=True, default=new_credit_note_id)
    number = models.CharField(max_length=40)
    status = models.CharField(
        max_length=10, choices=CreditNoteStatus.choices, default=CreditNoteStatus.DRAFT
    )
    currency = models.CharField(max_length=3)
    amount = models.BigIntegerField()
    amount_applied = models.BigIntegerField(default=0)
    reason = models.CharField(max_length=200, blank=True)
    # The invoice the credit is about, if any (applying it is a separate step).
    invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="credit_notes"
    )
    # Stripe's cn_… for a credit note issued in the company's Stripe account (blank otherwise).
    stripe_credit_note_id = models.CharField(max_length=255, blank=True, default="")
    issued_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["company", "number"], name="credit_note_unique_number"),
            models.UniqueConstraint(
                fields=["company", "stripe_credit_note_id"],
                condition=~models.Q(stripe_credit_note_id=""),
                name="credit_note_unique_stripe_id",
            ),
        ]
        indexes = [models.Index(fields=["customer", "status"], name="credit_note_customer")]

    def __str__(self) -> str:
        return self.number

    @property
    def remaining(self) -> int:
        return max(self.amount - self.amount_applied, 0)


class CreditApplication(models.Model):
    """Credit of a credit note applied to an invoice: who applied how much to what, and when.
    A reversal (the invoice voided) keeps the row and sets ``reversed_at``, so every credit is
    auditable and past statements never change. Minor units."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    credit_note = models.ForeignKey(
        CreditNote, on_delete=models.PROTECT, related_name="applications"
    )
    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, related_name="credit_applications"
    )
    amount = models.BigIntegerField()
    applied_at = models.DateTimeField()
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reversed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["applied_at", "id"]
        indexes = [
            models.Index(fields=["invoice", "applied_at"], name="credit_application_invoice"),
        ]

    def __str__(self) -> str:
        return f"{self.credit_note} → {self.invoice}"
