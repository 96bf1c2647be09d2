"""Celery tasks: thin wrappers that take ids and call one function."""

from __future__ import annotations

import datetime as dt

from celery import shared_task

from payments import webhooks


@shared_task(acks_late=True)
def webhook_event_process_task(event_pk: int) -> str | None:
    return webhooks.webhook_event_process(event_pk=event_pk)


@shared_task
def webhook_events_retry_task() -> int:
    """Periodic (CELERY_BEAT_SCHEDULE): pick up events stored but never processed."""
    pending = webhooks.webhook_events_unprocessed(older_than=dt.timedelta(minutes=1))
    for event_pk in pending:
        webhook_event_process_task.delay(event_pk)
    return len(pending)
