"""Reads for preferences, emails and reminders."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Exists, F, OuterRef

from invoices.customization import scope
from invoices.models import Company, Invoice, InvoiceStatus
from invoices.tokens import parse_token
from preferences.models import (
    EmailPreference,
    ReminderSent,
    ReminderStep,
    SentEmail,
    SentEmailStatus,
)
from preferences.services import PREFERENCES_TOKEN_PURPOSE, normalize_email


def email_preference_for_token(token: str) -> EmailPreference | None:
    """The preferences a genuine token opens, with the company. No query for a forged,
    short or missing token (the MAC is checked first), one otherwise."""
    selector = parse_token(token, purpose=PREFERENCES_TOKEN_PURPOSE)
    if selector is None:
        return None
    preference = EmailPreference.objects.select_related("company").filter(selector=selector).first()
    if preference is None or not scope.admits(preference.company):
        return None  # on another company's own domain a token is as unknown as a forged one
    return preference


def stale_queued_email_ids(*, before: dt.datetime) -> list[int]:
    """Emails still ``queued`` since before ``before``: their Celery message was lost (broker
    down when the transaction committed) and nothing else will send them."""
    # "sending" too: what a claim of earlier versions left behind when its worker died.
    return list(
        SentEmail.objects.filter(
            status__in=[SentEmailStatus.QUEUED, SentEmailStatus.SENDING], created_at__lt=before
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:500]
    )


def company_today(company: Company, now: dt.datetime) -> dt.date:
    """The calendar date at ``now`` where the company is (reminders follow its days)."""
    try:
        zone = ZoneInfo(company.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return now.astimezone(zone).date()


def invoices_needing_reminders(*, now: dt.datetime) -> Iterator[tuple[Invoice, str]]:
    """(invoice, step) pairs whose reminder is due at ``now`` and not yet taken.

    Due soon: an open invoice with money due whose due date is within the company's
    ``reminder_days_before_due`` days from today (and not past). Overdue: due date at least
    ``reminder_days_after_due`` days ago. Windows rather than exact days, so a missed beat
    run catches up; ReminderSent keeps each step to one email. Paid, void, draft and
    uncollectible invoices never match. Two queries per company with open invoices.
    """
    companies = Company.objects.filter(
        Exists(Invoice.objects.filter(company=OuterRef("pk"), status=InvoiceStatus.OPEN))
    ).only("id", "time_zone", "reminder_days_before_due", "reminder_days_after_due")
    for company in companies:
        today = company_today(company, now)
        windows = {
            ReminderStep.DUE_SOON: {
                "due_date__gte": today,
                "due_date__lte": today + dt.timedelta(days=company.reminder_days_before_due),
            },
            ReminderStep.OVERDUE: {
                "due_date__lte": today - dt.timedelta(days=company.reminder_days_after_due),
                "due_date__lt": today,
            },
        }
        for step, window in windows.items():
            taken = ReminderSent.objects.filter(invoice=OuterRef("pk"), step=step)
            invoices = (
                Invoice.objects.filter(
                    company=company,
                    status=InvoiceStatus.OPEN,
                    total__gt=F("amount_paid") + F("amount_credited"),
                )
                .filter(**window)
                .exclude(Exists(taken))
                .order_by("due_date", "id")
            )
            for invoice in invoices:
                yield invoice, step


def email_preference_for_address(*, company_id: int, email: str) -> EmailPreference | None:
    """The address's preferences row, if it has one (a read: GET endpoints never create it)."""
    return EmailPreference.objects.filter(
        company_id=company_id, email=normalize_email(email)
    ).first()
