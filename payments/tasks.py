"""Celery tasks: thin wrappers that take ids and call one function. Each imports its service
inside its body: the services import these tasks to queue them."""

from __future__ import annotations

import datetime as dt

from celery import shared_task


@shared_task(acks_late=True, ignore_result=True)
def webhook_event_process_task(event_pk: int) -> str | None:
    from payments import webhooks

    return webhooks.webhook_event_process(event_pk=event_pk)


@shared_task
def webhook_events_retry_task() -> int:
    """Periodic (CELERY_BEAT_SCHEDULE): pick up events stored but never processed."""
    from payments import webhooks

    pending = webhooks.webhook_events_unprocessed(older_than=dt.timedelta(minutes=1))
    for event_pk in pending:
        webhook_event_process_task.apply_async((event_pk,), ignore_result=True)
    return len(pending)
