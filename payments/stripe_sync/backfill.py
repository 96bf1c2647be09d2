"""The import of a company's Stripe account: customers, then finalized invoices (all their
lines, their payments), then credit notes.

Each list is read page by page, newest first (Stripe's order); after each page the last id
is saved as the list's checkpoint (``SyncCheckpoint.starting_after``), so an interrupted
import resumes after it. A list read to its end drops its checkpoint: the next run reads it
again from the newest object and changes nothing it already holds (each upsert is
idempotent), which is also how a re-run picks up what changed. Objects created while the
import runs are newer than its cursor: the webhooks bring them.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from django.utils import timezone

from core.crypto import SecretUnreadable, decrypt_secret
from core.errors import ApplicationError
from invoices import events
from invoices.events import Actor
from invoices.models import Company, Customer, Invoice
from invoices.timezones import company_day_start
from payments import stripe_client
from payments.models import StripeConnection, SyncCheckpoint
from payments.stripe_sync import upsert
from payments.stripe_sync.mapping import Json, object_id

logger = logging.getLogger("payments.stripe_sync")

RESOURCES = ("customers", "invoices", "credit_notes")

# (resource, objects read so far in this list, summary so far): called after every page.
Progress = Callable[[str, int, "SyncResult"], None]


class SyncUnavailable(ApplicationError):
    """The company has no usable Stripe connection."""

    def __init__(self, message: str) -> None:
        super().__init__("stripe_not_connected", message, None, 409)


@dataclass
class SyncResult:
    # {"customers": {"created": 3, "updated": 1, ...}, "invoices": {...}, ...}
    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, resource: str, outcome: str) -> None:
        bucket = self.counts.setdefault(resource, {})
        bucket[outcome] = bucket.get(outcome, 0) + 1

    def count(self, resource: str, outcome: str) -> int:
        return self.counts.get(resource, {}).get(outcome, 0)

    def summary(self) -> str:
        parts = []
        for resource in RESOURCES:
            bucket = self.counts.get(resource, {})
            done = ", ".join(f"{n} {outcome}" for outcome, n in sorted(bucket.items()))
            parts.append(f"{resource.replace('_', ' ')}: {done or 'none'}")
        return "; ".join(parts)


def connection_key(company: Company) -> tuple[StripeConnection, str]:
    connection = StripeConnection.objects.filter(company=company, active=True).first()
    if connection is None:
        raise SyncUnavailable(f"{company.slug} has no active Stripe connection.")
    try:
        return connection, decrypt_secret(connection.secret_key_encrypted)
    except SecretUnreadable as exc:
        raise SyncUnavailable(
            "The Stripe secret key cannot be read (SECRET_KEY changed?): reconnect Stripe."
        ) from exc


def apply_invoice(
    *,
    company: Company,
    secret_key: str,
    data: Json,
    synced_at: dt.datetime,
    known: Known | None = None,
) -> str:
    """Bring one Stripe invoice (as listed or retrieved) in; its outcome. ``known`` carries
    what an import already read of this page (customers, invoices we hold)."""
    if data.get("status") not in ("open", "paid", "void", "uncollectible"):
        return "skipped"
    customer = upsert.customer_for_invoice(
        company=company,
        data=data,
        fetch_customer=lambda stripe_id: stripe_client.object_retrieve(
            secret_key=secret_key, resource="customers", object_id=stripe_id
        ),
        known=known.customers if known is not None else None,
    )
    stripe_id = str(data["id"])
    is_new = (
        stripe_id not in known.invoices
        if known is not None
        else upsert.invoice_is_new(company=company, stripe_invoice_id=stripe_id)
    )
    lines: list[Json] = []
    if is_new:
        lines = upsert.lines_of(
            data,
            lambda after: stripe_client.invoice_lines_after(
                secret_key=secret_key, invoice_id=stripe_id, starting_after=after
            ),
        )
    _invoice, outcome = upsert.invoice_upsert(
        company=company, customer=customer, data=data, lines=lines, synced_at=synced_at
    )
    return outcome


@dataclass
class Known:
    """What one page of an import looks up once instead of per object."""

    customers: dict[str, Customer] = field(default_factory=dict)
    invoices: set[str] = field(default_factory=set)

    @classmethod
    def for_page(cls, company: Company, page: Sequence[Json]) -> Known:
        customer_ids = {object_id(data.get("customer")) for data in page}
        invoice_ids = [str(data["id"]) for data in page]
        return cls(
            customers={
                c.stripe_customer_id: c
                for c in Customer.objects.filter(
                    company=company, stripe_customer_id__in=customer_ids - {""}
                )
            },
            invoices=set(
                Invoice.objects.filter(
                    company=company, stripe_invoice_id__in=invoice_ids
                ).values_list("stripe_invoice_id", flat=True)
            ),
        )


def _apply(
    company: Company,
    secret_key: str,
    resource: str,
    data: Json,
    read_at: dt.datetime,
    known: Known | None,
) -> str:
    if resource == "customers":
        _customer, created = upsert.customer_upsert(company=company, data=data)
        return "created" if created else "matched"
    if resource == "invoices":
        return apply_invoice(
            company=company, secret_key=secret_key, data=data, synced_at=read_at, known=known
        )
    _note, outcome = upsert.credit_note_upsert(company=company, data=data)
    return outcome


def _created_gte(company: Company, since: dt.date | None) -> int | None:
    if since is None:
        return None
    return int(company_day_start(company, since).timestamp())


def stripe_sync(
    *,
    company: Company,
    since: dt.date | None = None,
    progress: Progress | None = None,
    actor: Actor = None,
) -> SyncResult:
    """Import the company's Stripe customers, finalized invoices and credit notes (created on
    or after ``since``, a day in the company's time zone, when given). Resumes an interrupted
    run of the same ``since`` from its checkpoints. Raises SyncUnavailable, or
    stripe_client.PaymentProviderError when Stripe fails (the checkpoints keep the place)."""
    connection, secret_key = connection_key(company)
    if not connection.stripe_account_id:
        connection.stripe_account_id = stripe_client.account_id_retrieve(secret_key=secret_key)
    if connection.sync_enabled_at is None:
        connection.sync_enabled_at = timezone.now()
        connection.sync_reconciled_at = connection.sync_enabled_at
    connection.save(update_fields=["stripe_account_id", "sync_enabled_at", "sync_reconciled_at"])
    result = SyncResult()
    created_gte = _created_gte(company, since)
    for resource in RESOURCES:
        checkpoint, _new = SyncCheckpoint.objects.get_or_create(
            connection=connection, resource=resource, defaults={"since": since}
        )
        if checkpoint.since != since:
            # Another window than the interrupted run's: start this list over.
            checkpoint.since, checkpoint.starting_after, checkpoint.done = since, "", 0
            checkpoint.save()
        cursor = checkpoint.starting_after or None
        while True:
            read_at = timezone.now()
            page = stripe_client.objects_page(
                secret_key=secret_key,
                resource=resource,
                starting_after=cursor,
                created_gte=created_gte,
            )
            known = Known.for_page(company, page.data) if resource == "invoices" else None
            for data in page.data:
                outcome = _apply(company, secret_key, resource, data, read_at, known)
                result.add(resource, outcome)
            if page.data:
                cursor = str(page.data[-1]["id"])
                checkpoint.starting_after = cursor
                checkpoint.done += len(page.data)
                checkpoint.save(update_fields=["starting_after", "done", "updated_at"])
            if progress is not None:
                progress(resource, checkpoint.done, result)
            if not page.has_more:
                break
        checkpoint.delete()
    events.record(
        company=company,
        action="stripe.synced",
        object_id=connection.webhook_key,
        actor=actor,
        since=since.isoformat() if since else None,
        counts=result.counts,
    )
    logger.info("stripe_sync.done company=%s %s", company.slug, result.summary())
    return result
