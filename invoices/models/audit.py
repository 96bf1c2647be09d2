from __future__ import annotations

from django.conf import settings
from django.db import models

from .company import Company


class AuditEvent(models.Model):
    """Who did what to which object of which tenant; written by invoices.events only."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="audit_events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    action = models.CharField(max_length=64)
    object_id = models.CharField(max_length=40, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["company", "-created_at"], name="audit_company_time"),
            # One object's history (a customer's changes in the admin).
            models.Index(
                fields=["company", "object_id", "-created_at"], name="audit_company_object_time"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.object_id}"
