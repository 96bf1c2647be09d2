"""Outgoing webhooks: a company's endpoints, the events it is told about (the outbox), one
delivery per event and endpoint, and one attempt row per try (the delivery log)."""

from __future__ import annotations

from django.db import models

from invoices.ids import new_public_id
from invoices.models import Company

EVENT_TYPES = (
    "invoice.finalized",
    "invoice.viewed",
    "invoice.paid",
    "invoice.voided",
    "payment.succeeded",
    "payment.refunded",
    "credit_note.created",
    "comment.created",
    "customer.updated",
    "preferences.updated",
)


def new_endpoint_id() -> str:
    return new_public_id("we")


def new_event_id() -> str:
    return new_public_id("msg")


class WebhookEndpoint(models.Model):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="webhook_endpoints")
    public_id = models.CharField(max_length=32, unique=True, default=new_endpoint_id)
    url = models.URLField(max_length=2000)
    # A list of names from EVENT_TYPES.
    events = models.JSONField(default=list)
    description = models.CharField(max_length=200, blank=True)
    # The signing secret (whsec_…), encrypted at rest (core.crypto); shown once when created.
    secret_encrypted = models.TextField()
    # After a rotation the previous secret also signs, until previous_secret_expires_at.
    previous_secret_encrypted = models.TextField(blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    # Set by the first failed delivery, cleared by a successful one.
    failing_since = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.url


class WebhookEvent(models.Model):
    """The outbox: written in the transaction of the change it announces."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    # The message id (webhook-id): the same on every retry, so receivers can drop duplicates.
    public_id = models.CharField(max_length=32, unique=True, default=new_event_id)
    type = models.CharField(max_length=40)
    object_id = models.CharField(max_length=254)
    # The exact JSON that is signed and sent.
    payload = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.type} {self.object_id}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Waiting"
    SENDING = "sending", "Sending"
    SUCCEEDED = "succeeded", "Delivered"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class WebhookDelivery(models.Model):
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # A sender's claim: another worker leaves the delivery alone until then.
    locked_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due"),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint}"


class WebhookAttempt(models.Model):
    """One try of a delivery: what came back and how long it took."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="log")
    attempted_at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    response_excerpt = models.TextField(blank=True)
    error = models.CharField(max_length=300, blank=True)
    succeeded = models.BooleanField(default=False)

    class Meta:
        ordering = ["-attempted_at", "-id"]

    def __str__(self) -> str:
        return f"{self.attempted_at:%Y-%m-%d %H:%M:%S} {self.status_code or self.error}"
