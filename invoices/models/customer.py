from __future__ import annotations

from django.db import models
from django.db.models import Q

from invoices.ids import new_public_id

from .company import LANGUAGE_CHOICES, Company


def new_customer_id() -> str:
    return new_public_id("cus")


class Customer(models.Model):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="customers")
    public_id = models.CharField(max_length=32, unique=True, default=new_customer_id)
    name = models.CharField(max_length=200)
    email = models.EmailField()
    external_id = models.CharField(max_length=100, blank=True)
    address_line1 = models.CharField(max_length=200, blank=True)
    address_line2 = models.CharField(max_length=200, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    city = models.CharField(max_length=100, blank=True)
    region = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166 alpha-2")
    tax_id = models.CharField(max_length=64, blank=True)
    # The reference the buyer wants quoted on its invoices (a purchase order, a Leitweg-ID).
    buyer_reference = models.CharField(max_length=200, blank=True)
    preferred_language = models.CharField(max_length=8, choices=LANGUAGE_CHOICES, blank=True)
    # The customer's id in the company's Stripe account (cus_…), once Stripe sync linked them.
    stripe_customer_id = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "external_id"],
                condition=~Q(external_id=""),
                name="customer_unique_external_id",
            ),
            # Also the index of the API's ?stripe_customer= and of the embed's lookup.
            models.UniqueConstraint(
                fields=["company", "stripe_customer_id"],
                condition=~Q(stripe_customer_id=""),
                name="customer_unique_stripe_id",
            ),
        ]
        indexes = [models.Index(fields=["company", "email"], name="customer_company_email")]

    def __str__(self) -> str:
        return self.name

    @property
    def address_lines(self) -> list[str]:
        city_line = " ".join(part for part in (self.postal_code, self.city) if part)
        parts = [self.address_line1, self.address_line2, city_line, self.region, self.country]
        return [part for part in parts if part]
