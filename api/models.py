from __future__ import annotations

from django.db import models

from invoices.models import Company


class IdempotencyStatus(models.TextChoices):
    PENDING = "pending", "In progress"
    DONE = "done", "Answered"


class IdempotencyKey(models.Model):
    """One ``Idempotency-Key`` of a company's POST: the request it named (a SHA-256 of method,
    path and body) and, once answered, the answer to replay for 24 hours. The row is inserted
    before the work starts, so a second request with the same key waits for the first one's
    answer instead of doing the work again (the unique constraint decides who goes first)."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    status = models.CharField(
        max_length=8, choices=IdempotencyStatus.choices, default=IdempotencyStatus.PENDING
    )
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_content_type = models.CharField(max_length=100, blank=True)
    response_body = models.BinaryField(default=b"")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["company", "key"], name="idempotency_unique_key")
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created")]

    def __str__(self) -> str:
        return self.key
