"""Celery tasks: take ids, call one function in preferences.emails, handle retries."""

from __future__ import annotations

import datetime as dt
from typing import Any

from celery import shared_task
from django.utils import timezone

# Longer than a retry delay (default_retry_delay below), so a retrying email is left alone;
# short, so an email queued while Redis was down goes out minutes after it is back (the beat
# runs requeue_stale_emails every minute).
STALE_AFTER = dt.timedelta(minutes=3)


@shared_task(bind=True, max_retries=3, default_retry_delay=120, acks_late=True, ignore_result=True)
def send_email(self: Any, sent_email_id: int) -> str | None:
    """Deliver one queued SentEmail; transport errors retry with a delay, then mark it failed."""
    from preferences import emails

    final = self.request.retries >= self.max_retries
    try:
        sent = emails.email_deliver(sent_email_id=sent_email_id, final_attempt=final)
    except Exception as exc:
        if final:
            raise
        raise self.retry(exc=exc) from exc
    return sent.status if sent is not None else None


@shared_task
def requeue_stale_emails() -> int:
    """Beat: hand Celery again the emails whose first message was lost. Delivery claims each
    row with a conditional UPDATE, so a row that is in fact still on its way is sent once."""
    from preferences import selectors

    ids = selectors.stale_queued_email_ids(before=timezone.now() - STALE_AFTER)
    for sent_email_id in ids:
        send_email.apply_async((sent_email_id,), ignore_result=True)
    return len(ids)


@shared_task
def send_reminders() -> int:
    """Beat: queue the "due soon" and "overdue" reminders due now (each step once per invoice)."""
    from preferences import emails

    return emails.reminders_queue(now=timezone.now())


# Nobody reads its result: none is stored (nor, when queued, waited for in the backend).
@shared_task(ignore_result=True)
def payment_emails(company_id: int, payment_public_id: str) -> None:
    """After a payment commits: queue its receipt (and what staff hear of it)."""
    from preferences import notifications

    notifications.payment_emails_queue(company_id=company_id, payment_public_id=payment_public_id)


@shared_task
def staff_notify(company_id: int, invoice_public_id: str, kind: str) -> None:
    """After a customer's comment or an invoice's first view: queue the staff notifications."""
    from preferences import notifications

    notifications.staff_notify(
        company_id=company_id, invoice_public_id=invoice_public_id, kind=kind
    )


@shared_task
def staff_notify_first_views(company_id: int, invoice_public_ids: list[str]) -> None:
    """After a flush of views: the staff notifications of the invoices' first views."""
    from preferences import notifications

    notifications.first_views_notify(company_id=company_id, invoice_public_ids=invoice_public_ids)


@shared_task(ignore_result=True)
def send_sign_in_email(company_id: int, email: str, language: str) -> int:
    """Email sign-in links to the company's customers with this address (none: nothing)."""
    from preferences import sign_in_email

    return sign_in_email.sign_in_email_send(company_id=company_id, email=email, language=language)
