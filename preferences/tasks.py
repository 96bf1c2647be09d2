"""Celery tasks: take ids, call one function in preferences.emails, handle retries."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.utils import timezone

from preferences import emails


@shared_task(bind=True, max_retries=3, default_retry_delay=120, acks_late=True)
def send_email(self: Any, sent_email_id: int) -> str | None:
    """Deliver one queued SentEmail; transport errors retry with a delay, then mark it failed."""
    final = self.request.retries >= self.max_retries
    try:
        sent = emails.email_deliver(sent_email_id=sent_email_id, final_attempt=final)
    except Exception as exc:
        if final:
            raise
        raise self.retry(exc=exc) from exc
    return sent.status if sent is not None else None


@shared_task
def send_reminders() -> int:
    """Beat: queue the "due soon" and "overdue" reminders due now (each step once per invoice)."""
    return emails.reminders_queue(now=timezone.now())
