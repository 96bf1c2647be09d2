from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .company import Company
from .customer import Customer
from .invoice import Invoice


class ShareLinkKind(models.TextChoices):
    INVOICE = "invoice", _("Invoice page")
    PORTAL = "portal", _("Customer portal")


class ShareLink(models.Model):
    """A no-login link. Only the selector is stored: the usable token is the selector plus a
    keyed MAC of it (invoices.tokens), so a copy of the database alone opens nothing."""

    kind = models.CharField(max_length=8, choices=ShareLinkKind.choices)
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="share_links")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="share_links")
    invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.CASCADE, related_name="share_links"
    )
    selector = models.CharField(max_length=32, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice"],
                condition=Q(kind="invoice", revoked_at__isnull=True),
                name="share_link_one_live_per_invoice",
            ),
            models.UniqueConstraint(
                fields=["customer"],
                condition=Q(kind="portal", revoked_at__isnull=True),
                name="share_link_one_live_portal_per_customer",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} link {self.selector[:6]}…"
