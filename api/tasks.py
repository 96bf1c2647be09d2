"""Celery tasks of the REST API."""

from __future__ import annotations

from celery import shared_task


@shared_task
def idempotency_keys_purge_task() -> int:
    """Hourly: forget Idempotency-Keys older than 24 hours."""
    from api.idempotency import idempotency_keys_purge

    return idempotency_keys_purge()
