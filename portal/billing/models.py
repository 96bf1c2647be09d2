"""A change of billing email the customer asked for in the portal, waiting for the new
address to confirm it. Nothing here is a usable secret: the emailed link is the selector plus
its keyed MAC (``invoices.tokens``), and only the selector is stored."""

from __future__ import annotations

from django.db import models

from invoices.models import Company, Customer


class BillingEmailChange(models.Model):
    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="billing_email_changes"
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="billing_email_changes"
    )
    old_email = models.EmailField()
    new_email = models.EmailField()
    selector = models.CharField(max_length=32, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    # Set once: confirmed (the email changed) or replaced by a newer request.
    confirmed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["customer", "-created_at"], name="billing_email_customer_time")
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.new_email}"
