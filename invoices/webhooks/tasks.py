"""Celery tasks: take ids, call one service."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True)
def deliver_task(delivery_id: int) -> str | None:
    from invoices.webhooks.services import delivery_send

    return delivery_send(delivery_id=delivery_id)


@shared_task
def deliver_due_task() -> int:
    """Every minute: send the deliveries whose retry is due, and any whose message was lost."""
    from invoices.webhooks.services import deliveries_due
    from invoices.webhooks.tasks import deliver_task

    ids = deliveries_due()
    for delivery_id in ids:
        deliver_task.delay(delivery_id)
    return len(ids)
