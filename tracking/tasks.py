"""Celery tasks: take ids, call one service."""

from __future__ import annotations

import uuid
from typing import Any

from celery import shared_task

# Waits before the retries of a failed flush (seconds, doubling, at most a minute). After the
# last retry the batch stays pending in Redis, and the periodic flush takes it over.
FLUSH_RETRY_MAX_WAIT = 60


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=10)
def views_flush_task(self: Any) -> int:
    """Write the buffered opens to PostgreSQL. Queued when the buffer goes from empty to
    non-empty, and every few seconds by beat (the safety net for a lost message, and the
    take-over of a dead flusher's batch). The consumer is named after the task id, which a
    retry and a redelivered message keep: they read their own unacknowledged batch first."""
    from tracking.services import views_flush

    consumer = f"flush-{self.request.id or uuid.uuid4().hex}"
    try:
        return views_flush(consumer=consumer)
    except Exception as exc:
        # PostgreSQL or Redis failed: nothing was acknowledged, the batch is read again.
        raise self.retry(
            exc=exc, countdown=min(2**self.request.retries, FLUSH_RETRY_MAX_WAIT)
        ) from exc
