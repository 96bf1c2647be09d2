"""Celery tasks: thin wrappers that take ids and call one function. Each imports its service
inside its body: the services import these tasks to queue them."""

from __future__ import annotations

import datetime as dt

from celery import shared_task

from payments.stripe_client import ProviderUnavailable


@shared_task(acks_late=True, ignore_result=True)
def webhook_event_process_task(event_pk: int) -> str | None:
    from payments import webhooks

    return webhooks.webhook_event_process(event_pk=event_pk)


@shared_task(acks_late=True, ignore_result=True)
def webhook_events_drain_task(slot: int) -> int:
    """Process every stored Stripe event waiting (queued when one arrives and no drain of the
    slot is queued yet)."""
    from payments import webhooks

    return webhooks.webhook_events_drain(slot=slot)


@shared_task
def webhook_events_retry_task() -> int:
    """Periodic (CELERY_BEAT_SCHEDULE): pick up events stored but never processed."""
    from payments import webhooks

    pending = webhooks.webhook_events_unprocessed(older_than=dt.timedelta(minutes=1))
    for event_pk in pending:
        webhook_event_process_task.apply_async((event_pk,), ignore_result=True)
    return len(pending)


@shared_task(
    acks_late=True,
    ignore_result=True,
    autoretry_for=(ProviderUnavailable,),
    retry_backoff=True,
    max_retries=8,
)
def payment_surplus_refund_task(payment_pk: int) -> None:
    """Refund an overpayment's surplus through Stripe; idempotent (a fixed idempotency key, and
    nothing happens once the refund id is stored), retried while Stripe is unreachable."""
    from payments import services

    services.payment_surplus_refund(payment_pk=payment_pk)


@shared_task
def payment_surpluses_retry_task() -> int:
    """Periodic (CELERY_BEAT_SCHEDULE): surpluses whose refund task was lost (broker down)."""
    from payments import services

    pending = services.payments_surplus_unrefunded(older_than=dt.timedelta(minutes=3))
    for payment_pk in pending:
        payment_surplus_refund_task.apply_async((payment_pk,), ignore_result=True)
    return len(pending)


@shared_task
def stripe_reconcile_task() -> int:
    """Periodic (CELERY_BEAT_SCHEDULE): for each company syncing its Stripe account, refresh
    what Stripe's events since the last pass name (fills gaps lost deliveries left)."""
    from payments.models import StripeConnection
    from payments.stripe_sync import live

    refreshed = 0
    for pk in live.connections_to_reconcile():
        connection = StripeConnection.objects.select_related("company").get(pk=pk)
        try:
            refreshed += live.reconcile(connection=connection)
        except ProviderUnavailable:
            # Stripe unreachable: the next pass reads from the same point.
            continue
    return refreshed


@shared_task(acks_late=True, ignore_result=True)
def stripe_sync_task(company_pk: int) -> str:
    """The import of a company's Stripe account, as the admin action starts it (the same as
    ``manage.py stripe_sync SLUG``): resumable, so a worker that dies mid-way loses nothing."""
    from invoices.models import Company
    from payments.stripe_sync.backfill import stripe_sync

    result = stripe_sync(company=Company.objects.get(pk=company_pk))
    return result.summary()
