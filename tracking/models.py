"""View tracking: one row per open of a shared invoice, and running statistics per invoice.

Rows are written only by ``tracking.services``; the statistics move by conditional SQL
(``INSERT … ON CONFLICT DO UPDATE SET view_count = view_count + <the batch's views>``), never by
read-modify-save, so parallel writers cannot lose updates.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from invoices.models import Company, Invoice

# Enough for every real browser string; longer ones are cut (they are attacker-controlled).
USER_AGENT_MAX_LENGTH = 400


class ViewSource(models.TextChoices):
    LINK = "link", _("Shared link")
    EMAIL = "email", _("Email")
    PORTAL = "portal", _("Customer portal")
    API = "api", _("API")


class NotCountedReason(models.TextChoices):
    """Why a recorded open did not count as a view."""

    HEAD = "head", _("HEAD request")
    PREFETCH = "prefetch", _("Browser prefetch")
    SCANNER = "scanner", _("Link preview or mail scanner")
    STAFF = "staff", _("The company's own staff")
    RATE_LIMITED = "rate_limited", _("Repeat open within the window")


class ViewRecord(models.Model):
    """One open of a shared invoice, counted or not (``reason`` says why not)."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="view_records")
    # Copied from the invoice so every read can be scoped to the tenant without a join.
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="view_records")
    viewed_at = models.DateTimeField()
    source = models.CharField(max_length=8, choices=ViewSource.choices, default=ViewSource.LINK)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=USER_AGENT_MAX_LENGTH, blank=True)
    counted = models.BooleanField()
    reason = models.CharField(max_length=16, choices=NotCountedReason.choices, blank=True)
    # Drawn when the open is classified, before it is buffered: a flush that runs again (a
    # worker killed after its commit, a request that wrote directly after a lost answer from
    # the buffer) inserts nothing twice. Empty on rows written before buffering existed.
    visit_key = models.UUIDField(null=True, blank=True, unique=True, editable=False)

    class Meta:
        ordering = ["-viewed_at", "-id"]
        indexes = [
            models.Index(fields=["invoice", "-viewed_at"], name="view_record_invoice_time"),
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id} {self.source} {self.viewed_at:%Y-%m-%d %H:%M}"


class InvoiceViewStats(models.Model):
    """Running totals of the counted views of one invoice; created by its first counted view."""

    invoice = models.OneToOneField(
        Invoice, on_delete=models.CASCADE, primary_key=True, related_name="view_stats"
    )
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    view_count = models.PositiveIntegerField(default=0)
    # The earliest counted view written so far (a batch flushed late may move it back).
    first_viewed_at = models.DateTimeField()
    last_viewed_at = models.DateTimeField()
    unique_ips = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("invoice view statistics")
        verbose_name_plural = _("invoice view statistics")

    def __str__(self) -> str:
        return f"{self.invoice_id}: {self.view_count} views"


class InvoiceViewer(models.Model):
    """One row per distinct IP that made a counted view of an invoice. The unique constraint
    makes "is this IP new?" an ``INSERT … ON CONFLICT DO NOTHING`` that concurrent opens from
    the same address cannot both win."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="+")
    ip = models.GenericIPAddressField()
    first_seen_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["invoice", "ip"], name="invoice_viewer_unique_ip")
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id} {self.ip}"
