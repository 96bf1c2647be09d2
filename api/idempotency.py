"""``Idempotency-Key`` on every POST, as Stripe does it.

The same key with the same request (method, path and body) within 24 hours answers what the
first request answered (status and body) without doing the work again, also when both arrive
at once: the first inserts the key's row before it starts (the unique constraint lets one
in), the second waits for its answer. The same key with another request answers 409. Keys
are per company. Answers of 5xx and 429 are not kept (no work was done, or it failed): the key
may be used again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from api.models import IdempotencyKey, IdempotencyStatus
from core.errors import ApplicationError
from invoices.models import Company

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
KEPT_FOR = dt.timedelta(hours=24)
# How long a retry waits for a concurrent first request with its key to answer.
WAIT_SECONDS = 15.0
POLL_SECONDS = 0.05


class IdempotencyError(ApplicationError):
    pass


def request_hash(request: HttpRequest) -> str:
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.path}\n".encode())
    digest.update(request.body)
    return digest.hexdigest()


def _replay(row: IdempotencyKey) -> HttpResponse:
    response = HttpResponse(
        bytes(row.response_body),
        status=row.response_status or 200,
        content_type=row.response_content_type or "application/json",
    )
    response["Idempotent-Replayed"] = "true"
    return response


def _claim(company: Company, key: str, fingerprint: str) -> IdempotencyKey | None:
    """Insert the key's row (None: this request goes first), or return the existing one."""
    try:
        with transaction.atomic():
            IdempotencyKey.objects.create(
                company=company, key=key, request_hash=fingerprint, created_at=timezone.now()
            )
        return None
    except IntegrityError:
        return IdempotencyKey.objects.filter(company=company, key=key).first()


def idempotent(
    request: HttpRequest, company: Company, key: str, respond: Callable[[], HttpResponse]
) -> HttpResponse:
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise IdempotencyError(
            "invalid", f"{HEADER} must be 1 to {MAX_KEY_LENGTH} characters.", HEADER, 400
        )
    fingerprint = request_hash(request)
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        row = _claim(company, key, fingerprint)
        if row is None:
            break
        if row.created_at < timezone.now() - KEPT_FOR:
            # Expired: forget it and take the key afresh.
            IdempotencyKey.objects.filter(pk=row.pk, created_at=row.created_at).delete()
            continue
        if row.request_hash != fingerprint:
            raise IdempotencyError(
                "idempotency_key_reused",
                f"This {HEADER} was used with another request; use a new key.",
                HEADER,
                409,
            )
        if row.status == IdempotencyStatus.DONE:
            return _replay(row)
        if time.monotonic() >= deadline:
            raise IdempotencyError(
                "idempotency_key_in_use",
                f"A request with this {HEADER} is still in progress; retry later.",
                HEADER,
                409,
            )
        time.sleep(POLL_SECONDS)

    try:
        response = respond()
    except BaseException:
        IdempotencyKey.objects.filter(company=company, key=key).delete()
        raise
    if response.status_code >= 500 or response.status_code == 429 or response.streaming:
        IdempotencyKey.objects.filter(company=company, key=key).delete()
        return response
    IdempotencyKey.objects.filter(company=company, key=key).update(
        status=IdempotencyStatus.DONE,
        response_status=response.status_code,
        response_content_type=response.get("Content-Type", "")[:100],
        response_body=response.content,
    )
    return response


def idempotency_keys_purge(*, now: dt.datetime | None = None) -> int:
    """Delete keys older than 24 hours (they would be taken afresh anyway)."""
    cutoff = (now or timezone.now()) - KEPT_FOR
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted
