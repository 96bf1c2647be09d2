"""What the project's events mean for email: the customer's receipt for each payment, and the
staff notifications (a customer's comment, a payment, an invoice's first view).

The webhooks app announces every event (``webhooks.services.event_emit``); this module listens
(connected in ``preferences.apps``) and only queues a Celery task once the transaction commits,
so a payment is never held up, or undone, by an email. The task loads the rows and calls the
queueing functions in ``preferences.emails``, which write the SentEmail rows and hand each to
the one sending pipeline."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.core.cache import cache
from django.db import transaction

from core.redis_cache import cache_is_redis, cache_redis
from invoices.models import Company, Invoice, Membership
from preferences import tasks
from preferences.models import EmailKind


def event_heard(*, company: Company, type: str, object_id: str, data: Mapping[str, Any]) -> None:
    company_id = company.pk
    if type == "payment.succeeded":
        transaction.on_commit(
            lambda: tasks.payment_emails.delay(company_id, object_id), robust=True
        )
    elif type == "comment.created" and data.get("role") == "customer":
        transaction.on_commit(
            lambda: tasks.staff_notify.delay(company_id, object_id, EmailKind.STAFF_COMMENT),
            robust=True,
        )
    elif type == "invoice.viewed":
        # Which views are an invoice's first is asked once the transaction commits, for the
        # whole batch of a flush at once.
        _after_commit_together(
            ("views", company_id), object_id, lambda ids: _first_views_publish(company_id, ids)
        )


def _first_views_publish(company_id: int, invoice_public_ids: list[str]) -> None:
    first = _first_heard(list(dict.fromkeys(invoice_public_ids)))
    if first:
        tasks.staff_notify_first_views.delay(company_id, first)


class _Together:
    """One on-commit callback carrying the items of a transaction's same-kind events."""

    def __init__(self, key: object, publish: Callable[[list[str]], object]) -> None:
        self.key = key
        self.publish = publish
        self.items: list[str] = []

    def __call__(self) -> None:
        self.publish(self.items)


def _after_commit_together(key: object, item: str, publish: Callable[[list[str]], object]) -> None:
    """``publish([item, ...])`` once the transaction commits, with every item of ``key`` added
    at this same savepoint level: a flush of a thousand first views queues one task, not a
    thousand. An item added inside a savepoint of its own gets its own callback, which is
    dropped with the savepoint if it rolls back (as on_commit's callbacks are)."""
    connection = transaction.get_connection()
    if connection.in_atomic_block:
        here = set(connection.savepoint_ids)
        for savepoints, callback, _robust in connection.run_on_commit:
            if isinstance(callback, _Together) and callback.key == key and savepoints == here:
                callback.items.append(item)
                return
    together = _Together(key, publish)
    together.items.append(item)
    transaction.on_commit(together, robust=True)


def _first_view_key(invoice_public_id: str) -> str:
    return f"preferences:first-view:{invoice_public_id}"


def _first_heard(invoice_public_ids: list[str]) -> list[str]:
    """Views are frequent: only the first one heard of per invoice goes on to the database
    check (a cache key each, no query; on Redis one round trip for the lot). Without a cache,
    or when it fails, every view does."""
    if len(invoice_public_ids) > 1 and cache_is_redis():
        try:
            pipe = cache_redis().pipeline(transaction=False)
            for public_id in invoice_public_ids:
                pipe.set(cache.make_key(_first_view_key(public_id)), 1, nx=True)
            added = pipe.execute()
        except Exception:
            return invoice_public_ids
        return [public_id for public_id, new in zip(invoice_public_ids, added, strict=True) if new]
    return [public_id for public_id in invoice_public_ids if _maybe_first_view(public_id)]


def _maybe_first_view(invoice_public_id: str) -> bool:
    try:
        return bool(cache.add(_first_view_key(invoice_public_id), 1, timeout=None))
    except Exception:
        return True


def _invoice(company_id: int, invoice_public_id: str) -> Invoice | None:
    return (
        Invoice.objects.select_related("company", "customer")
        .filter(company_id=company_id, public_id=invoice_public_id)
        .first()
    )


def _lock_like_payments(invoice: Invoice) -> None:
    """Lock the invoice's row and its company's first, as payment_record does (the same
    statement, so the same order). The rows written next reference both, and PostgreSQL checks
    those references at commit with a key-share lock: taken the other way round while a payment
    of the invoice is being recorded, the two would deadlock and one of them (perhaps the
    payment) would fail. NO KEY UPDATE: view tracking's own reference checks are not held up."""
    Invoice.objects.select_for_update(no_key=True).select_related("company").only(
        "id", "company__id"
    ).get(pk=invoice.pk)


def payment_emails_queue(*, company_id: int, payment_public_id: str) -> None:
    """The emails a new payment sends: the customer's receipt, and the staff who want it hear
    of it (not whoever recorded it)."""
    from payments.models import Payment
    from preferences.emails import receipt_email_queue, staff_notification_queue

    payment = (
        Payment.objects.select_related("invoice__company", "invoice__customer")
        .filter(company_id=company_id, public_id=payment_public_id)
        .first()
    )
    if payment is None:
        return
    with transaction.atomic():
        _lock_like_payments(payment.invoice)
        receipt_email_queue(payment=payment)
        staff_notification_queue(
            invoice=payment.invoice,
            kind=EmailKind.STAFF_PAYMENT,
            payment=payment,
            exclude_user_id=payment.recorded_by_id,
        )


def first_views_notify(*, company_id: int, invoice_public_ids: list[str]) -> None:
    """The first views of a flush: staff hear of each invoice once. A company without a member
    who could get an email (active, with an address) needs nothing more: one query."""
    members = Membership.objects.filter(company_id=company_id, user__is_active=True).exclude(
        user__email=""
    )
    if not members.exists():
        return
    for invoice_public_id in invoice_public_ids:
        staff_notify(
            company_id=company_id,
            invoice_public_id=invoice_public_id,
            kind=EmailKind.STAFF_FIRST_VIEW,
        )


def staff_notify(*, company_id: int, invoice_public_id: str, kind: str) -> None:
    """A customer's comment or an invoice's first view: tell the staff who want it."""
    from preferences.emails import first_view_notification_queue, staff_notification_queue

    invoice = _invoice(company_id, invoice_public_id)
    if invoice is None:
        return
    with transaction.atomic():
        _lock_like_payments(invoice)
        if kind == EmailKind.STAFF_FIRST_VIEW:
            first_view_notification_queue(invoice=invoice)
        else:
            staff_notification_queue(invoice=invoice, kind=kind)
