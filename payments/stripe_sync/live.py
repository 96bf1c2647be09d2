"""Live sync: Stripe's ``invoice.*``, ``credit_note.*``, ``customer.*`` and invoice payment
events on the company's webhook endpoint, and the periodic reconciliation.

An event is only a hint: the handler re-fetches the object from Stripe and upserts what it
reads now, stamped with the time it read it, so a late, repeated or reordered event never
puts an older state back (upsert.invoice_upsert keeps the newest read). Only companies that
imported their account (``StripeConnection.sync_enabled_at``) are synced; an event naming
another Stripe account is ignored before it gets here (payments.webhooks).

Stripe keeps events for 30 days: the reconciliation (Celery beat, every few minutes) reads
the events raised since its last pass and refreshes every object they name, which fills any
gap a lost delivery left.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from typing import Any

from django.utils import timezone

from invoices.models import Company
from payments import stripe_client
from payments.models import StripeConnection
from payments.stripe_sync import upsert
from payments.stripe_sync.backfill import SyncUnavailable, apply_invoice, connection_key
from payments.stripe_sync.mapping import object_id

logger = logging.getLogger("payments.stripe_sync")

# Stripe keeps events this long; a reconciliation never reads further back.
EVENT_RETENTION = dt.timedelta(days=30)
# Each pass reads a little before the last one ended (clock skew, events still being written).
RECONCILE_OVERLAP = dt.timedelta(minutes=5)


def _synced(company: Company) -> tuple[StripeConnection, str] | None:
    try:
        connection, secret_key = connection_key(company)
    except SyncUnavailable:
        return None
    if connection.sync_enabled_at is None:
        return None
    return connection, secret_key


def invoice_refresh(*, company: Company, stripe_invoice_id: str) -> str:
    """Read one invoice from Stripe now and apply it; its outcome."""
    synced = _synced(company)
    if synced is None:
        return "not_synced"
    _connection, secret_key = synced
    read_at = timezone.now()
    data = stripe_client.object_retrieve(
        secret_key=secret_key, resource="invoices", object_id=stripe_invoice_id
    )
    if data is None:
        # Deleted (only drafts can be), or not this account's.
        upsert.invoice_draft_remove(company=company, stripe_invoice_id=stripe_invoice_id)
        return "missing"
    return apply_invoice(company=company, secret_key=secret_key, data=data, synced_at=read_at)


def customer_refresh(*, company: Company, stripe_customer_id: str) -> str:
    synced = _synced(company)
    if synced is None:
        return "not_synced"
    _connection, secret_key = synced
    data = stripe_client.object_retrieve(
        secret_key=secret_key, resource="customers", object_id=stripe_customer_id
    )
    if data is None:
        # Deleted in Stripe: ours stays (it has invoices), no longer updated from Stripe.
        return "missing"
    _customer, created = upsert.customer_upsert(company=company, data=data)
    return "created" if created else "updated"


def credit_note_refresh(*, company: Company, stripe_credit_note_id: str) -> str:
    synced = _synced(company)
    if synced is None:
        return "not_synced"
    _connection, secret_key = synced
    data = stripe_client.object_retrieve(
        secret_key=secret_key, resource="credit_notes", object_id=stripe_credit_note_id
    )
    if data is None:
        return "missing"
    invoice_id = object_id(data.get("invoice"))
    if invoice_id:
        # The note changes what the invoice owes: its amounts first, then the note.
        invoice_refresh(company=company, stripe_invoice_id=invoice_id)
    _note, outcome = upsert.credit_note_upsert(company=company, data=data)
    return outcome


# Webhook handlers (payments.webhooks.HANDLERS): (company, the event's object) ------------


def _on_invoice(company: Company, obj: Mapping[str, Any]) -> None:
    invoice_refresh(company=company, stripe_invoice_id=str(obj["id"]))


def _on_invoice_payment(company: Company, obj: Mapping[str, Any]) -> None:
    invoice_id = object_id(obj.get("invoice"))
    if invoice_id:
        invoice_refresh(company=company, stripe_invoice_id=invoice_id)


def _on_customer(company: Company, obj: Mapping[str, Any]) -> None:
    customer_refresh(company=company, stripe_customer_id=str(obj["id"]))


def _on_credit_note(company: Company, obj: Mapping[str, Any]) -> None:
    credit_note_refresh(company=company, stripe_credit_note_id=str(obj["id"]))


INVOICE_EVENTS = (
    "invoice.created",
    "invoice.deleted",
    "invoice.finalized",
    "invoice.finalization_failed",
    "invoice.marked_uncollectible",
    "invoice.overdue",
    "invoice.paid",
    "invoice.payment_action_required",
    "invoice.payment_failed",
    "invoice.payment_succeeded",
    "invoice.sent",
    "invoice.updated",
    "invoice.voided",
)

HANDLERS: dict[str, Callable[[Company, Mapping[str, Any]], None]] = {
    **dict.fromkeys(INVOICE_EVENTS, _on_invoice),
    "invoice_payment.paid": _on_invoice_payment,
    "customer.created": _on_customer,
    "customer.updated": _on_customer,
    "customer.deleted": _on_customer,
    "credit_note.created": _on_credit_note,
    "credit_note.updated": _on_credit_note,
    "credit_note.voided": _on_credit_note,
}


# Reconciliation --------------------------------------------------------------------------


def _refresh_named(company: Company, kind: str, stripe_id: str) -> str:
    if kind == "invoice":
        return invoice_refresh(company=company, stripe_invoice_id=stripe_id)
    if kind == "credit_note":
        return credit_note_refresh(company=company, stripe_credit_note_id=stripe_id)
    return customer_refresh(company=company, stripe_customer_id=stripe_id)


def reconcile(*, connection: StripeConnection) -> int:
    """Refresh every customer, invoice and credit note Stripe raised an event about since the
    last pass (at most 30 days back); how many objects were refreshed."""
    company = connection.company
    synced = _synced(company)
    if synced is None:
        return 0
    _connection, secret_key = synced
    started = timezone.now()
    since = max(
        (connection.sync_reconciled_at or started) - RECONCILE_OVERLAP,
        started - EVENT_RETENTION,
    )
    named: dict[tuple[str, str], None] = {}
    cursor: str | None = None
    while True:
        page = stripe_client.invoices_changed_page(
            secret_key=secret_key, created_gte=int(since.timestamp()), starting_after=cursor
        )
        for event in page.data:
            obj = (event.get("data") or {}).get("object") or {}
            kind = str(obj.get("object") or "")
            if kind in ("invoice", "credit_note", "customer") and obj.get("id"):
                named.setdefault((kind, str(obj["id"])), None)
        if not page.has_more or not page.data:
            break
        cursor = str(page.data[-1]["id"])
    for kind, stripe_id in named:
        _refresh_named(company, kind, stripe_id)
    StripeConnection.objects.filter(pk=connection.pk).update(sync_reconciled_at=started)
    logger.info("stripe_sync.reconciled company=%s objects=%d", company.slug, len(named))
    return len(named)


def connections_to_reconcile() -> list[int]:
    return list(
        StripeConnection.objects.filter(active=True, sync_enabled_at__isnull=False).values_list(
            "pk", flat=True
        )
    )
