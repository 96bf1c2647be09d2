"""Writes of Stripe's customers, invoices, payments and credit notes into ours.

Each upsert is idempotent (keyed by the Stripe id, unique per company) and runs under a row
lock, so the import, webhooks and the reconciliation may apply the same object in any order,
twice, at once. An invoice remembers when the copy it holds was read from Stripe
(``stripe_synced_at``): a copy read earlier (a slow worker, a reordered event) never
overwrites a later one.

Stripe is the ledger of its own invoices: their amounts and status are Stripe's, copied
whole; a payment Stripe reports is mirrored as a Payment row (its PaymentIntent id keeps it
unique, so a payment our page took and payment_record() stored is not counted twice).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Sum

from invoices import events
from invoices.document import seller_snapshot
from invoices.models import Company, CreditNote, Customer, Invoice, InvoiceStatus, LineItem
from invoices.models.credit_note import CreditNoteStatus
from invoices.services import invoice_transition
from invoices.transitions import TRANSITIONS
from payments.models import Payment, PaymentMethod
from payments.stripe_sync import mapping
from payments.stripe_sync.mapping import Json

logger = logging.getLogger("payments.stripe_sync")

# Invoices issued in Stripe keep Stripe's number; they take sequences from here up, far above
# any of the company's own numbering, which neither collides with them nor moves.
STRIPE_SEQUENCE_BASE = 1_000_000_000
# 2024-01-01: Stripe's creation times count from here (an earlier invoice takes the base).
STRIPE_SEQUENCE_EPOCH = 1_704_067_200
PAYMENT_SOURCE = "stripe"


# Customers -------------------------------------------------------------------------------


def customer_upsert(*, company: Company, data: Json) -> tuple[Customer, bool]:
    """Our customer for a Stripe customer: (customer, created).

    Matched by Stripe id, else by email (any case, among customers not linked to another
    Stripe customer; Stripe's own email filter is case-sensitive, so the match is made here),
    else created. Once linked, the details Stripe fills in follow Stripe's."""
    stripe_id = str(data["id"])
    fields = mapping.customer_fields(data)
    with transaction.atomic():
        customer = (
            Customer.objects.select_for_update()
            .filter(company=company, stripe_customer_id=stripe_id)
            .first()
        )
        if customer is not None:
            # What Stripe fills in follows Stripe; what it leaves empty stays ours.
            changed = [
                name for name, value in fields.items() if value and getattr(customer, name) != value
            ]
            if changed:
                for name in changed:
                    setattr(customer, name, fields[name])
                customer.save(update_fields=changed)
            return customer, False
        if fields["email"]:
            customer = (
                Customer.objects.select_for_update()
                .filter(company=company, stripe_customer_id="", email__iexact=fields["email"])
                .order_by("created_at", "id")
                .first()
            )
        if customer is not None:
            customer.stripe_customer_id = stripe_id
            customer.save(update_fields=["stripe_customer_id"])
            events.record(
                company=company,
                action="customer.linked_to_stripe",
                object_id=customer.public_id,
                stripe_customer=stripe_id,
            )
            return customer, False
        try:
            with transaction.atomic():
                customer = Customer.objects.create(
                    company=company, stripe_customer_id=stripe_id, **fields
                )
        except IntegrityError:
            # Created meanwhile by another worker (the unique Stripe id per company).
            return Customer.objects.get(company=company, stripe_customer_id=stripe_id), False
        events.record(
            company=company,
            action="customer.imported_from_stripe",
            object_id=customer.public_id,
            stripe_customer=stripe_id,
        )
        return customer, True


def customer_for_invoice(
    *,
    company: Company,
    data: Json,
    fetch_customer: Callable[[str], Json | None],
    known: dict[str, Customer] | None = None,
) -> Customer:
    """The invoice's customer: ours (from ``known``, a cache an import keeps, or the
    database), else fetched from Stripe, else (deleted in Stripe) made from what the invoice
    says of the buyer."""
    stripe_id = mapping.object_id(data.get("customer"))
    found = (known or {}).get(stripe_id) or (
        Customer.objects.filter(company=company, stripe_customer_id=stripe_id).first()
        if stripe_id
        else None
    )
    if found is not None:
        return found
    fetched = fetch_customer(stripe_id) if stripe_id else None
    if fetched is None:
        fetched = {
            "id": stripe_id or f"deleted:{data['id']}",
            "name": data.get("customer_name"),
            "email": data.get("customer_email"),
            "address": data.get("customer_address"),
        }
    customer, _created = customer_upsert(company=company, data=fetched)
    if known is not None:
        known[stripe_id] = customer
    return customer


# Invoices --------------------------------------------------------------------------------


def invoice_is_new(*, company: Company, stripe_invoice_id: str) -> bool:
    return not Invoice.objects.filter(company=company, stripe_invoice_id=stripe_invoice_id).exists()


def _next_sequence(company: Company, created: int) -> int:
    """A sequence above our numbering, in the order Stripe created the invoices (one per
    second from STRIPE_SEQUENCE_EPOCH; invoices of the same second take the next free ones),
    so the lists' "newest first" holds for imported invoices too."""
    # The company row lock serialises this with our own numbering (invoice_number_allocate).
    Company.objects.select_for_update().only("id").get(pk=company.pk)
    candidate = STRIPE_SEQUENCE_BASE + max(created - STRIPE_SEQUENCE_EPOCH, 0)
    taken = set(
        Invoice.objects.filter(
            company=company, sequence__gte=candidate, sequence__lt=candidate + 10_000
        ).values_list("sequence", flat=True)
    )
    while candidate in taken:
        candidate += 1
    return candidate


def _free_number(company: Company, number: str) -> str:
    """Stripe's number, unless one of ours already has it (then marked as Stripe's)."""
    if not Invoice.objects.filter(company=company, number=number).exists():
        return number
    logger.warning("stripe_sync.number_taken company=%s number=%s", company.slug, number)
    return f"{number[:33]}-STRIPE"


def _invoice_create(
    *,
    company: Company,
    customer: Customer,
    data: Json,
    lines: list[Json],
    synced_at: dt.datetime,
) -> Invoice:
    state = mapping.invoice_state(data)
    transitions = data.get("status_transitions") or {}
    finalized = mapping.moment(transitions.get("finalized_at")) or mapping.moment(data["created"])
    issue_date = mapping.day(company, data.get("effective_at") or transitions.get("finalized_at"))
    issue_date = issue_date or mapping.day(company, data["created"])
    assert issue_date is not None
    invoice = Invoice.objects.create(
        company=company,
        customer=customer,
        number=_free_number(company, str(data.get("number") or data["id"])[:40]),
        sequence=_next_sequence(company, int(data["created"])),
        status=state.status,
        currency=str(data["currency"]).lower(),
        issue_date=issue_date,
        due_date=mapping.day(company, data.get("due_date")) or issue_date,
        notes=str(data.get("description") or ""),
        subtotal=state.subtotal,
        tax_total=state.tax_total,
        total=state.total,
        amount_paid=state.amount_paid,
        amount_credited=state.amount_credited,
        buyer_snapshot=mapping.buyer_snapshot(data),
        seller_snapshot=seller_snapshot(company),
        finalized_at=finalized,
        paid_at=state.paid_at if state.status == InvoiceStatus.PAID else None,
        stripe_invoice_id=str(data["id"]),
        stripe_subscription_id=mapping.subscription_of(data),
        stripe_billing_reason=str(data.get("billing_reason") or "")[:40],
        stripe_hosted_url=state.hosted_url,
        stripe_synced_at=synced_at,
    )
    rows = []
    for position, line in enumerate(lines):
        fields = mapping.line_fields(line)
        rows.append(
            LineItem(
                invoice=invoice,
                position=position,
                description=fields.description,
                quantity=fields.quantity,
                unit_amount=fields.unit_amount,
                amount=fields.amount,
                tax_amount=fields.tax_amount,
            )
        )
    LineItem.objects.bulk_create(rows)
    # No audit row per invoice: an import of thousands records one (stripe.synced, counts).
    return invoice


def _invoice_update(invoice: Invoice, data: Json, synced_at: dt.datetime) -> None:
    state = mapping.invoice_state(data)
    invoice.amount_paid = state.amount_paid
    invoice.amount_credited = state.amount_credited
    invoice.stripe_hosted_url = state.hosted_url or invoice.stripe_hosted_url
    invoice.stripe_synced_at = synced_at
    invoice.save(
        update_fields=[
            "amount_paid",
            "amount_credited",
            "stripe_hosted_url",
            "stripe_synced_at",
            "updated_at",
        ]
    )
    if state.status == invoice.status:
        return
    if state.status in TRANSITIONS.get(invoice.status, frozenset()):
        invoice_transition(
            invoice=invoice, to_status=state.status, reason=f"In Stripe: {data.get('status')}"
        )
    else:
        # Stripe is the ledger of its invoices: its status holds even where ours would not go.
        logger.warning(
            "stripe_sync.status_forced invoice=%s from=%s to=%s",
            invoice.public_id,
            invoice.status,
            state.status,
        )
        invoice.status = state.status
        invoice.save(update_fields=["status", "updated_at"])
    if state.status == InvoiceStatus.PAID and state.paid_at is not None:
        Invoice.objects.filter(pk=invoice.pk).update(paid_at=state.paid_at)
        invoice.paid_at = state.paid_at


def _payments_mirror(invoice: Invoice, data: Json) -> int:
    """A Payment row for each payment Stripe reports that we do not hold yet, and one for
    what was paid outside Stripe (paid_out_of_band). How many rows were added."""
    added = 0
    through_stripe = 0
    for paid in mapping.paid_intents(data):
        through_stripe += paid.amount
        if Payment.objects.filter(provider_payment_intent_id=paid.intent_id).exists():
            continue
        Payment.objects.create(
            company_id=invoice.company_id,
            invoice=invoice,
            amount=paid.amount,
            currency=paid.currency,
            provider_payment_intent_id=paid.intent_id,
            method=PaymentMethod.CARD,
            source=PAYMENT_SOURCE,
            **({"paid_at": paid.paid_at} if paid.paid_at else {}),
        )
        added += 1
    off_stripe = mapping.invoice_state(data).amount_paid - through_stripe
    if off_stripe <= 0:
        return added
    mirrored = Payment.objects.filter(
        invoice=invoice, source=PAYMENT_SOURCE, provider_payment_intent_id__isnull=True
    ).aggregate(total=Sum("amount"))["total"]
    if off_stripe > (mirrored or 0):
        Payment.objects.create(
            company_id=invoice.company_id,
            invoice=invoice,
            amount=off_stripe - (mirrored or 0),
            currency=invoice.currency,
            method=PaymentMethod.OTHER,
            source=PAYMENT_SOURCE,
            reference="Paid outside Stripe",
            **({"paid_at": invoice.paid_at} if invoice.paid_at else {}),
        )
        added += 1
    return added


def invoice_upsert(
    *,
    company: Company,
    customer: Customer,
    data: Json,
    lines: list[Json],
    synced_at: dt.datetime,
    _retry: bool = True,
) -> tuple[Invoice | None, str]:
    """Apply a finalized Stripe invoice read at ``synced_at``: (invoice, "created" |
    "updated" | "unchanged" | "stale" | "skipped"). Drafts are skipped; ``lines`` (all of
    them) are written only when the invoice is new: an issued invoice's lines never change."""
    if data.get("status") not in mapping.INVOICE_STATUSES:
        return None, "skipped"
    stripe_id = str(data["id"])
    try:
        with transaction.atomic():
            invoice = (
                Invoice.objects.select_for_update()
                .filter(company=company, stripe_invoice_id=stripe_id)
                .first()
            )
            if invoice is None:
                invoice = _invoice_create(
                    company=company, customer=customer, data=data, lines=lines, synced_at=synced_at
                )
                _payments_mirror(invoice, data)
                return invoice, "created"
            if invoice.stripe_synced_at is not None and synced_at <= invoice.stripe_synced_at:
                return invoice, "stale"
            before = (invoice.status, invoice.amount_paid, invoice.amount_credited)
            _invoice_update(invoice, data, synced_at)
            added = _payments_mirror(invoice, data)
            after = (invoice.status, invoice.amount_paid, invoice.amount_credited)
            return invoice, "updated" if before != after or added else "unchanged"
    except IntegrityError:
        if not _retry:
            raise
        # Another worker created the invoice (or recorded its payment) meanwhile: the unique
        # Stripe ids turned this copy away; apply it again, to what is there now.
        return invoice_upsert(
            company=company,
            customer=customer,
            data=data,
            lines=lines,
            synced_at=synced_at,
            _retry=False,
        )


def invoice_draft_remove(*, company: Company, stripe_invoice_id: str) -> bool:
    """``invoice.deleted``: Stripe deletes only drafts, and we never show drafts; remove one
    if we hold it. An issued invoice is never removed."""
    deleted, _rows = Invoice.objects.filter(
        company=company, stripe_invoice_id=stripe_invoice_id, status=InvoiceStatus.DRAFT
    ).delete()
    return bool(deleted)


# Credit notes ----------------------------------------------------------------------------


def credit_note_upsert(*, company: Company, data: Json) -> tuple[CreditNote | None, str]:
    """A Stripe credit note: issued or void. Stripe has already applied it to its invoice
    (the invoice's amounts say so), so ours shows it as fully applied: never credit to
    spend again here."""
    stripe_id = str(data["id"])
    invoice = Invoice.objects.filter(
        company=company, stripe_invoice_id=mapping.object_id(data.get("invoice"))
    ).first()
    if invoice is None:
        return None, "skipped"  # its invoice is not ours (a draft, or not imported yet)
    status = CreditNoteStatus.VOID if data.get("status") == "void" else CreditNoteStatus.ISSUED
    amount = int(data.get("total") or data.get("amount") or 0)
    with transaction.atomic():
        note = (
            CreditNote.objects.select_for_update()
            .filter(company=company, stripe_credit_note_id=stripe_id)
            .first()
        )
        if note is not None:
            if note.status == status:
                return note, "unchanged"
            note.status = status
            note.voided_at = mapping.moment(data.get("voided_at"))
            note.save(update_fields=["status", "voided_at"])
            return note, "updated"
        number = str(data.get("number") or stripe_id)[:40]
        if CreditNote.objects.filter(company=company, number=number).exists():
            number = f"{number[:33]}-STRIPE"
        try:
            with transaction.atomic():
                note = CreditNote.objects.create(
                    company=company,
                    customer_id=invoice.customer_id,
                    number=number,
                    status=status,
                    currency=str(data.get("currency") or invoice.currency),
                    amount=amount,
                    amount_applied=amount,
                    reason=str(data.get("memo") or data.get("reason") or "")[:200],
                    invoice=invoice,
                    issued_at=mapping.moment(data.get("created")),
                    voided_at=mapping.moment(data.get("voided_at")),
                    stripe_credit_note_id=stripe_id,
                )
        except IntegrityError:
            return CreditNote.objects.get(company=company, stripe_credit_note_id=stripe_id), (
                "unchanged"
            )
        return note, "created"


def lines_of(data: Json, rest: Callable[[str], Sequence[Json]]) -> list[Json]:
    """All of an invoice's lines: the embedded first page, then ``rest(last id)`` when Stripe
    says there are more."""
    embedded: dict[str, Any] = dict(data.get("lines") or {})
    lines: list[Json] = list(embedded.get("data") or [])
    if embedded.get("has_more") and lines:
        lines.extend(rest(str(lines[-1]["id"])))
    return lines
