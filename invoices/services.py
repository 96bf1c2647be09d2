"""Writes for companies, customers, invoices, share links and API keys.

Every function here is keyword-only, runs in a transaction, and is the only way the rest of the
project (admin, API, commands, other apps) changes these objects.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, ProtectedError
from django.utils import timezone

from core.errors import ApplicationError
from invoices import events, share_links
from invoices.bank_details import DEFAULT_UNIT_CODE
from invoices.customer_sessions.services import customer_sign_out_everywhere
from invoices.document import buyer_snapshot, seller_snapshot
from invoices.events import Actor, acting_user
from invoices.models import (
    ApiKey,
    Company,
    CreditApplication,
    CreditNote,
    Customer,
    Invoice,
    InvoiceStatus,
    InvoiceStatusChange,
    LineItem,
)
from invoices.models.company import portal_editable_fields_normalize
from invoices.models.credit_note import CreditNoteStatus
from invoices.models.invoice import vat_line_problem
from invoices.money import UnknownCurrency, exponent, normalize_currency
from invoices.selectors import UNPAID_STATUSES
from invoices.tasks import queue_invoice_pdf_render
from invoices.totals import invoice_totals, line_amounts
from invoices.transitions import check_transition
from invoices.webhooks.services import event_emit

API_KEY_PREFIX = "ipk_"


@dataclass(frozen=True)
class LineInput:
    description: str
    quantity: Decimal
    unit_amount: int
    tax_rate: Decimal = Decimal(0)
    # Blank: derived from the rate (LineItem.effective_vat_category).
    vat_category: str = ""
    vat_exemption_reason: str = ""
    unit_code: str = DEFAULT_UNIT_CODE


# Companies -------------------------------------------------------------------------------


def company_create(
    *, slug: str, name: str, currency: str = "usd", plan: str = "free", **fields: object
) -> Company:
    exponent(currency)  # rejects unknown currencies
    return Company.objects.create(
        slug=slug, name=name, default_currency=currency.lower(), plan=plan, **fields
    )


class Conflict(ApplicationError):
    """A write that conflicts with the object's state or another object (409)."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(code, message, field, 409)


class Invalid(ApplicationError):
    """A value the service refuses (400)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__("invalid", message, field, 400)


@transaction.atomic
def company_update(*, company: Company, changes: dict[str, Any], actor: Actor = None) -> Company:
    """Change the company's settings. ``changes`` maps model field names to new values; only
    fields the caller (the API, the admin) offers reach here, each validated by the model."""
    import zoneinfo

    if "time_zone" in changes:
        try:
            zoneinfo.ZoneInfo(str(changes["time_zone"]))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise Invalid("Unknown time zone.", "time_zone") from None
    if "default_currency" in changes:
        try:
            exponent(str(changes["default_currency"]))
        except ValueError:
            raise Invalid("Unknown currency.", "default_currency") from None
        changes["default_currency"] = str(changes["default_currency"]).lower()
    if "portal_editable_fields" in changes:
        try:
            changes["portal_editable_fields"] = portal_editable_fields_normalize(
                changes["portal_editable_fields"]
            )
        except ValidationError as exc:
            raise Invalid(exc.messages[0], "portal_editable_fields") from None
    locked = Company.objects.select_for_update().get(pk=company.pk)
    for name, value in changes.items():
        setattr(locked, name, value)
    _full_clean(locked, fields=list(changes))
    if "portal_domain" in changes:
        _portal_domain_check_free(locked)
    if changes:
        try:
            with transaction.atomic():
                locked.save(update_fields=list(changes))
        except IntegrityError:
            # Another company took the domain between the check and the save.
            _portal_domain_check_free(locked)
            raise
    events.record(company=locked, action="company.updated", actor=actor, fields=sorted(changes))
    for name in changes:
        setattr(company, name, getattr(locked, name))
    return company


def _portal_domain_check_free(company: Company) -> None:
    """A portal domain belongs to one company: a second one asking for it is a 409."""
    domain = company.portal_domain
    if domain and Company.objects.filter(portal_domain=domain).exclude(pk=company.pk).exists():
        raise Conflict("domain_taken", "Another company uses this portal domain.", "portal_domain")


def _full_clean(obj: Any, *, fields: list[str]) -> None:
    """The model's own validators (lengths, choices, patterns) for ``fields``, as an Invalid."""
    exclude = [f.name for f in obj._meta.concrete_fields if f.name not in fields]
    try:
        obj.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise Invalid(str(messages[0]), field) from None


# Customers -------------------------------------------------------------------------------


def customer_create(
    *, company: Company, name: str, email: str, external_id: str = "", **fields: object
) -> Customer:
    return Customer.objects.create(
        company=company, name=name, email=email, external_id=external_id, **fields
    )


@transaction.atomic
def customer_update(
    *, customer: Customer, changes: dict[str, Any], actor: Actor = None, source: str = ""
) -> Customer:
    """Change a customer's details (``changes``: model field names to values). An
    ``external_id`` another customer of the company uses is a 409. The audit row keeps each
    changed value before and after (the customer's change history in the admin) and
    ``source`` (who changed it when no staff account did: "api", "portal"). Issued invoices
    keep their own copy of the buyer (``Invoice.buyer_snapshot``): nothing here touches them."""
    locked = Customer.objects.select_for_update().get(pk=customer.pk)
    before = {name: getattr(locked, name) for name in changes}
    old_email = locked.email
    external_id = changes.get("external_id")
    if (
        external_id
        and Customer.objects.filter(company_id=locked.company_id, external_id=external_id)
        .exclude(pk=locked.pk)
        .exists()
    ):
        raise Conflict("duplicate", "A customer with this external_id exists.", "external_id")
    for name, value in changes.items():
        setattr(locked, name, value)
    _full_clean(locked, fields=list(changes))
    if changes:
        locked.save(update_fields=list(changes))
    events.record(
        company=locked.company,
        action="customer.updated",
        object_id=locked.public_id,
        actor=actor,
        fields=sorted(changes),
        values={
            name: {"from": str(before[name]), "to": str(getattr(locked, name))}
            for name in sorted(changes)
            if before[name] != getattr(locked, name)
        },
        **({"source": source} if source else {}),
    )
    event_emit(
        company=locked.company,
        type="customer.updated",
        object_id=locked.public_id,
        data={**events.customer_data(locked), "changed": sorted(changes)},
    )
    if locked.email.casefold() != old_email.casefold():
        # Whoever signed in proved the old mailbox, not the new one.
        customer_sign_out_everywhere(customer=locked, actor=actor, reason="email_changed")
    for name in changes:
        setattr(customer, name, getattr(locked, name))
    return customer


# Invoices --------------------------------------------------------------------------------


def invoice_number_allocate(*, company: Company) -> tuple[int, str]:
    """Take the company's next invoice number. Must run inside the creating transaction: the
    row lock serialises concurrent creators, and a rollback gives the number back (gap-free)."""
    locked = (
        Company.objects.select_for_update().only("id", "next_invoice_sequence").get(pk=company.pk)
    )
    sequence = locked.next_invoice_sequence
    Company.objects.filter(pk=company.pk).update(next_invoice_sequence=sequence + 1)
    return sequence, f"{company.invoice_prefix}-{sequence:05d}"


def _write_lines(invoice: Invoice, lines: Sequence[LineInput]) -> None:
    rows = []
    for position, line in enumerate(lines):
        problem = vat_line_problem(
            tax_rate=line.tax_rate,
            vat_category=line.vat_category,
            exemption_reason=line.vat_exemption_reason,
        )
        if problem:
            raise Invalid(problem, f"lines.{position}.vat_category")
        amounts = line_amounts(
            quantity=line.quantity, unit_amount=line.unit_amount, tax_rate=line.tax_rate
        )
        rows.append(
            LineItem(
                invoice=invoice,
                position=position,
                description=line.description,
                quantity=line.quantity,
                unit_amount=line.unit_amount,
                tax_rate=line.tax_rate,
                vat_category=line.vat_category,
                vat_exemption_reason=line.vat_exemption_reason,
                unit_code=line.unit_code or DEFAULT_UNIT_CODE,
                amount=amounts.net,
                tax_amount=amounts.tax,
            )
        )
    LineItem.objects.bulk_create(rows)


@transaction.atomic
def invoice_save_new(*, invoice: Invoice, actor: Actor = None) -> Invoice:
    """Save an invoice built elsewhere (the admin form) with the next number of its company."""
    invoice.sequence, invoice.number = invoice_number_allocate(company=invoice.company)
    invoice.save()
    events.record(
        company=invoice.company, action="invoice.created", object_id=invoice.public_id, actor=actor
    )
    return invoice


@transaction.atomic
def invoice_create(
    *,
    company: Company,
    customer: Customer,
    currency: str,
    due_date: dt.date,
    lines: Sequence[LineInput] = (),
    issue_date: dt.date | None = None,
    notes: str = "",
    allow_partial_payments: bool = False,
    minimum_payment: int | None = None,
    actor: Actor = None,
) -> Invoice:
    if customer.company_id != company.pk:
        raise ValueError("The customer belongs to another company.")
    exponent(currency)
    sequence, number = invoice_number_allocate(company=company)
    invoice = Invoice.objects.create(
        company=company,
        customer=customer,
        sequence=sequence,
        number=number,
        currency=currency.lower(),
        issue_date=issue_date or timezone.localdate(),
        due_date=due_date,
        notes=notes,
        allow_partial_payments=allow_partial_payments,
        minimum_payment=minimum_payment,
    )
    _write_lines(invoice, lines)
    invoice_recalculate(invoice=invoice)
    events.record(
        company=company, action="invoice.created", object_id=invoice.public_id, actor=actor
    )
    return invoice


@transaction.atomic
def invoice_recalculate(*, invoice: Invoice) -> Invoice:
    """Refresh each line's derived amounts and the invoice totals from the lines."""
    lines = list(invoice.lines.all())
    for line in lines:
        amounts = line_amounts(
            quantity=line.quantity, unit_amount=line.unit_amount, tax_rate=line.tax_rate
        )
        if (line.amount, line.tax_amount) != (amounts.net, amounts.tax):
            line.amount, line.tax_amount = amounts.net, amounts.tax
            line.save(update_fields=["amount", "tax_amount"])
    totals = invoice_totals(
        line_amounts(quantity=li.quantity, unit_amount=li.unit_amount, tax_rate=li.tax_rate)
        for li in lines
    )
    invoice.subtotal, invoice.tax_total, invoice.total = totals.subtotal, totals.tax, totals.total
    invoice.save(update_fields=["subtotal", "tax_total", "total", "updated_at"])
    return invoice


# The webhook events a transition announces.
OUTGOING_TRANSITION_EVENTS: dict[str, str] = {
    InvoiceStatus.OPEN: "invoice.finalized",
    InvoiceStatus.PAID: "invoice.paid",
    InvoiceStatus.VOID: "invoice.voided",
}


@transaction.atomic
def invoice_transition(
    *, invoice: Invoice, to_status: str, actor: Actor = None, reason: str = ""
) -> Invoice:
    """Move an invoice along the transitions table, locking it and writing a status-change row."""
    locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if Invoice.company.is_cached(invoice):  # type: ignore[attr-defined]
        # The caller read it already (a payment): not read again for the records below.
        locked.company = invoice.company
    _transition_write(locked, source=invoice, to_status=to_status, actor=actor, reason=reason)
    # Keep the caller's instance in step with the database.
    invoice.status, invoice.finalized_at, invoice.paid_at = (
        locked.status,
        locked.finalized_at,
        locked.paid_at,
    )
    return invoice


def invoice_transition_locked(
    *,
    invoice: Invoice,
    to_status: str,
    actor: Actor = None,
    reason: str = "",
    also_save: tuple[str, ...] = (),
) -> Invoice:
    """invoice_transition for a caller inside a transaction that read ``invoice`` under its row
    lock (a payment being recorded): the row is not locked and read again, and the fields the
    caller changed (``also_save``) go in the same UPDATE as the status."""
    _transition_write(
        invoice,
        source=invoice,
        to_status=to_status,
        actor=actor,
        reason=reason,
        also_save=also_save,
    )
    return invoice


def _transition_write(
    locked: Invoice,
    *,
    source: Invoice,
    to_status: str,
    actor: Actor,
    reason: str,
    also_save: tuple[str, ...] = (),
) -> None:
    """The transition's writes on the locked row: status (and its dates), the status-change
    row, the audit event and the outgoing event. ``source`` is the caller's instance, whose
    customer the outgoing event describes."""
    check_transition(locked.status, to_status)
    from_status = locked.status
    locked.status = to_status
    update_fields = ["status", "updated_at", *also_save]
    now = timezone.now()
    if to_status == InvoiceStatus.OPEN and from_status == InvoiceStatus.DRAFT:
        locked.finalized_at = now
        # From now on the document is issued: it keeps the parties as they are today.
        parties = Invoice.objects.select_related("company", "customer").get(pk=locked.pk)
        locked.buyer_snapshot = buyer_snapshot(parties.customer)
        locked.seller_snapshot = seller_snapshot(parties.company)
        update_fields += ["finalized_at", "buyer_snapshot", "seller_snapshot"]
    if to_status == InvoiceStatus.PAID:
        locked.paid_at = now
        update_fields.append("paid_at")
    elif from_status == InvoiceStatus.PAID:
        locked.paid_at = None
        update_fields.append("paid_at")
    locked.save(update_fields=update_fields)
    InvoiceStatusChange.objects.create(
        invoice=locked,
        from_status=from_status,
        to_status=to_status,
        actor=acting_user(actor),
        reason=reason,
    )
    events.record(
        company=locked.company,
        action=f"invoice.{to_status}",
        object_id=locked.public_id,
        actor=actor,
        from_status=from_status,
    )
    outgoing = OUTGOING_TRANSITION_EVENTS.get(to_status)
    if outgoing is not None:
        locked.customer = source.customer
        event_emit(
            company=locked.company,
            type=outgoing,
            object_id=locked.public_id,
            data=events.invoice_data(locked),
        )


def invoice_finalize(*, invoice: Invoice, actor: Actor = None) -> Invoice:
    invoice = invoice_transition(invoice=invoice, to_status=InvoiceStatus.OPEN, actor=actor)
    credit_auto_apply(invoice=invoice, actor=actor)
    # The customer will download the PDF: render it ahead of time, once the finalize commits.
    queue_invoice_pdf_render(invoice_id=invoice.pk)
    return invoice


class NotADraft(Conflict):
    def __init__(self, status: str) -> None:
        super().__init__(
            "invalid_status",
            f"Only a draft can be changed or deleted; this invoice is {status}.",
            "status",
        )


@transaction.atomic
def invoice_draft_update(
    *,
    invoice: Invoice,
    changes: dict[str, Any],
    lines: Sequence[LineInput] | None = None,
    actor: Actor = None,
) -> Invoice:
    """Change a draft: ``changes`` maps invoice field names (``customer``, ``currency``,
    ``due_date``, ``issue_date``, ``notes``, ``allow_partial_payments``, ``minimum_payment``)
    to values; ``lines``, when given, replace every line. Anything but a draft is a 409."""
    locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if locked.status != InvoiceStatus.DRAFT:
        raise NotADraft(locked.status)
    customer = changes.get("customer")
    if customer is not None and customer.company_id != locked.company_id:
        raise ValueError("The customer belongs to another company.")
    if "currency" in changes:
        exponent(changes["currency"])
        changes["currency"] = str(changes["currency"]).lower()
    for name, value in changes.items():
        setattr(locked, name, value)
    if locked.due_date < locked.issue_date:
        raise Invalid("The due date is before the issue date.", "due_date")
    if changes:
        locked.save(update_fields=[*changes, "updated_at"])
    if lines is not None:
        locked.lines.all().delete()
        _write_lines(locked, lines)
    invoice_recalculate(invoice=locked)
    events.record(
        company=locked.company,
        action="invoice.updated",
        object_id=locked.public_id,
        actor=actor,
        fields=sorted([*changes, *(["lines"] if lines is not None else [])]),
    )
    return locked


# An issued invoice is a legal document: its customer, currency, dates, lines and amounts
# never change (corrections go through void and re-issue, or a credit note). This is the one
# list of what may still change after issue; the admin shows everything else read-only and
# invoice_update refuses it, so every face agrees.
ISSUED_EDITABLE_FIELDS: frozenset[str] = frozenset(
    {"internal_notes", "comment_write_mode", "allow_partial_payments", "minimum_payment"}
)
# Of those, the ones that may change only while nothing is paid or credited on the invoice.
UNTIL_PAID_FIELDS: frozenset[str] = frozenset({"allow_partial_payments", "minimum_payment"})


def invoice_editable_fields(invoice: Invoice) -> frozenset[str] | None:
    """What may change on ``invoice`` now: None for a draft (everything), else a part of
    ISSUED_EDITABLE_FIELDS."""
    if invoice.status == InvoiceStatus.DRAFT:
        return None
    if invoice.amount_paid or invoice.amount_credited or invoice.status != InvoiceStatus.OPEN:
        return ISSUED_EDITABLE_FIELDS - UNTIL_PAID_FIELDS
    return ISSUED_EDITABLE_FIELDS


class InvoiceIssued(Conflict):
    """A change to what an issued invoice says (409)."""

    def __init__(self, field: str) -> None:
        super().__init__(
            "immutable",
            f"This invoice is issued: its {field} cannot change. Void it and issue a new one, "
            "or issue a credit note.",
            field,
        )


def invoice_update(
    *,
    invoice: Invoice,
    changes: dict[str, Any],
    lines: Sequence[LineInput] | None = None,
    actor: Actor = None,
) -> Invoice:
    """Change an invoice: a draft in anything (invoice_draft_update); an issued one only in
    what invoice_editable_fields allows, anything else refused (409, nothing changed)."""
    from invoices.models.company import CommentWriteMode

    with transaction.atomic():
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        allowed = invoice_editable_fields(locked)
        if allowed is None:
            return invoice_draft_update(invoice=invoice, changes=changes, lines=lines, actor=actor)
        if lines is not None:
            raise InvoiceIssued("lines")
        for name in sorted(changes):
            if name not in allowed:
                raise InvoiceIssued(name)
        mode = changes.get("comment_write_mode")
        if mode and mode not in CommentWriteMode.values:
            raise Invalid("Unknown comment mode.", "comment_write_mode")
        minimum = changes.get("minimum_payment")
        if minimum is not None and (not isinstance(minimum, int) or minimum <= 0):
            raise Invalid("Enter an amount greater than zero.", "minimum_payment")
        for name, value in changes.items():
            setattr(locked, name, value)
        if changes:
            locked.save(update_fields=[*changes, "updated_at"])
        events.record(
            company=locked.company,
            action="invoice.updated",
            object_id=locked.public_id,
            actor=actor,
            fields=sorted(changes),
        )
        for name in changes:
            setattr(invoice, name, getattr(locked, name))
        return invoice


@transaction.atomic
def invoice_draft_delete(*, invoice: Invoice, actor: Actor = None) -> None:
    """Delete a draft and its lines (anything but a draft is a 409). When it holds the company's
    latest number, the number is given back, so numbering stays gap-free in the usual case
    (create, fix, delete); an older draft's number stays unused."""
    locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if locked.status != InvoiceStatus.DRAFT:
        raise NotADraft(locked.status)
    company = Company.objects.select_for_update().get(pk=locked.company_id)
    public_id, sequence = locked.public_id, locked.sequence
    try:
        with transaction.atomic():
            locked.delete()
    except ProtectedError:
        raise Conflict("in_use", "This draft is referred to and cannot be deleted.") from None
    if company.next_invoice_sequence == sequence + 1:
        Company.objects.filter(pk=company.pk).update(next_invoice_sequence=sequence)
    events.record(company=company, action="invoice.deleted", object_id=public_id, actor=actor)


# What becomes of the money already paid on an invoice that is voided: given back (refunded
# through Stripe or recorded as refunded, in payments.services.invoice_void), or kept as
# customer credit (a credit note for the amount paid). Without a choice the void is refused.
VOID_PAYMENTS_REFUND = "refund"
VOID_PAYMENTS_CREDIT = "credit"
VOID_PAYMENTS_CHOICES = (VOID_PAYMENTS_REFUND, VOID_PAYMENTS_CREDIT)


class VoidNeedsPaymentsChoice(Conflict):
    """Voiding an invoice that holds payments, without saying what becomes of them (409)."""

    def __init__(self, amount_paid: int, currency: str) -> None:
        from invoices.money import format_money

        super().__init__(
            "has_payments",
            f"{format_money(amount_paid, currency, 'en')} has been paid on this invoice: say "
            'whether to refund it or keep it as customer credit ("payments": "refund" or '
            '"credit").',
            "payments",
        )


def invoice_void(
    *, invoice: Invoice, actor: Actor = None, reason: str = "", payments: str | None = None
) -> Invoice:
    """Void an invoice; credit applied to it goes back to its credit notes (the applications
    stay, marked reversed, so statements of earlier dates keep showing them).

    Money paid on it is never stranded: with ``payments="credit"`` it becomes a credit note
    for the customer, in the same transaction; refunds are made first by
    ``payments.services.invoice_void`` (the one entry point of the admin and the API), after
    which nothing is paid any more. Otherwise an invoice with payments is refused (409)."""
    if payments is not None and payments not in VOID_PAYMENTS_CHOICES:
        raise Invalid('Choose "refund" or "credit" for the payments.', "payments")
    with transaction.atomic():
        locked = (
            Invoice.objects.select_for_update()
            .select_related("company", "customer")
            .get(pk=invoice.pk)
        )
        check_transition(locked.status, InvoiceStatus.VOID)
        note = None
        if locked.amount_paid > 0:
            if payments != VOID_PAYMENTS_CREDIT:
                raise VoidNeedsPaymentsChoice(locked.amount_paid, locked.currency)
            note = credit_note_create(
                company=locked.company,
                customer=locked.customer,
                currency=locked.currency,
                amount=locked.amount_paid,
                reason=f"Paid on {locked.number}, which was voided",
                invoice=locked,
                actor=actor,
            )
        invoice = invoice_transition(
            invoice=invoice,
            to_status=InvoiceStatus.VOID,
            actor=actor,
            reason=reason or (f"Payments kept as credit note {note.number}" if note else ""),
        )
        locked = Invoice.objects.select_for_update().select_related("company").get(pk=invoice.pk)
        if locked.amount_credited:
            _credit_applications_reverse(invoice=locked, actor=actor)
            invoice.amount_credited = 0
        return invoice


def invoice_mark_uncollectible(*, invoice: Invoice, actor: Actor = None) -> Invoice:
    return invoice_transition(invoice=invoice, to_status=InvoiceStatus.UNCOLLECTIBLE, actor=actor)


# Share links ---------------------------------------------------------------------------

# Written by their own module (invoices.share_links, which the sign-in sessions below this
# module use too); the rest of the project calls them from here, with the app's other writes.
LinkExpiryInPast = share_links.LinkExpiryInPast
share_link_url = share_links.share_link_url
share_link_expiry_check = share_links.share_link_expiry_check
share_link_token = share_links.share_link_token
share_token_of = share_links.share_token_of
share_link_create = share_links.share_link_create
portal_link_create = share_links.portal_link_create
share_links_for_portal = share_links.share_links_for_portal
share_link_revoke = share_links.share_link_revoke
portal_link_revoke = share_links.portal_link_revoke


# API keys --------------------------------------------------------------------------------


def api_key_hash(raw_key: str) -> str:
    # Keys carry 256 random bits, so a fast unsalted hash is enough to make a dump useless.
    return hashlib.sha256(raw_key.encode()).hexdigest()


@transaction.atomic
def api_key_create(
    *, company: Company, name: str = "default", actor: Actor = None
) -> tuple[ApiKey, str]:
    """A new key and its only plain-text copy, to be shown once."""
    raw_key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        company=company, name=name, prefix=raw_key[:12], key_hash=api_key_hash(raw_key)
    )
    events.record(company=company, action="api_key.created", object_id=key.prefix, actor=actor)
    return key, raw_key


@transaction.atomic
def api_key_revoke(*, key: ApiKey, actor: Actor = None) -> ApiKey:
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
    events.record(company=key.company, action="api_key.revoked", object_id=key.prefix, actor=actor)
    return key


# Credit notes ----------------------------------------------------------------------------


class CreditNoteRefused(ApplicationError):
    """A credit note that cannot be created, applied or voided as asked: 400 for input that
    is not acceptable, 409 for a conflict with the note's or the invoice's state."""

    def __init__(
        self, code: str, message: str, field: str | None = None, status: int = 409
    ) -> None:
        super().__init__(code, message, field, status)


def credit_note_number_allocate(*, company: Company) -> str:
    """The company's next credit-note number ("CN-00001"), under the company row lock of the
    creating transaction (unique under concurrency)."""
    Company.objects.select_for_update().only("id").get(pk=company.pk)
    count = CreditNote.objects.filter(company=company).count()
    return f"CN-{count + 1:05d}"


@transaction.atomic
def credit_note_create(
    *,
    company: Company,
    customer: Customer,
    currency: str,
    amount: int,
    reason: str = "",
    invoice: Invoice | None = None,
    actor: Actor = None,
) -> CreditNote:
    """A credit note, issued at once: credit the customer can apply to open invoices in the
    same currency. ``invoice`` (optional) names the invoice it is about."""
    if customer.company_id != company.pk:
        raise ValueError("The customer belongs to another company.")
    try:
        currency = normalize_currency(currency)
    except UnknownCurrency:
        raise CreditNoteRefused("invalid", "Unknown currency.", "currency", 400) from None
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise CreditNoteRefused("not_positive", "Enter an amount greater than zero.", "amount", 400)
    if invoice is not None and (
        invoice.customer_id != customer.pk
        or invoice.currency != currency
        or invoice.status == InvoiceStatus.DRAFT
    ):
        raise CreditNoteRefused(
            "invalid",
            "The invoice must be an issued invoice of the same customer and currency.",
            "invoice",
            400,
        )
    note = CreditNote.objects.create(
        company=company,
        customer=customer,
        number=credit_note_number_allocate(company=company),
        status=CreditNoteStatus.ISSUED,
        currency=currency,
        amount=amount,
        reason=reason,
        invoice=invoice,
        issued_at=timezone.now(),
    )
    events.record(
        company=company,
        action="credit_note.issued",
        object_id=note.public_id,
        actor=actor,
        amount=amount,
        currency=currency,
    )
    event_emit(
        company=company,
        type="credit_note.created",
        object_id=note.public_id,
        data={
            "object": "credit_note",
            "id": note.public_id,
            "number": note.number,
            "customer": customer.public_id,
            "currency": note.currency,
            "amount": note.amount,
            "invoice": invoice.public_id if invoice is not None else None,
        },
    )
    return note


@transaction.atomic
def credit_note_void(*, note: CreditNote, actor: Actor = None) -> CreditNote:
    """Void an issued credit note while none of it is applied."""
    locked = CreditNote.objects.select_for_update().get(pk=note.pk)
    if locked.status != CreditNoteStatus.ISSUED:
        raise CreditNoteRefused("invalid_status", f"The credit note is {locked.status}.", "status")
    if locked.amount_applied > 0:
        raise CreditNoteRefused(
            "applied", "Part of this credit note is applied; it cannot be voided.", "status"
        )
    locked.status = CreditNoteStatus.VOID
    locked.voided_at = timezone.now()
    locked.save(update_fields=["status", "voided_at"])
    events.record(
        company=locked.company, action="credit_note.voided", object_id=locked.public_id, actor=actor
    )
    return locked


def credit_note_apply(
    *, note: CreditNote, invoice: Invoice, amount: int | None = None, actor: Actor = None
) -> CreditApplication:
    """Apply credit of ``note`` to an open invoice of the same customer and currency: by
    default the least of what remains and what is owed. Under row locks on the invoice, then
    the note (the order payments lock the invoice in), so credit is never spent twice and an
    invoice never gets more than it owes. An invoice settled in full becomes ``paid``."""
    with transaction.atomic():
        locked_invoice = (
            Invoice.objects.select_for_update().select_related("company").get(pk=invoice.pk)
        )
        locked = CreditNote.objects.select_for_update().get(pk=note.pk)
        if locked.company_id != locked_invoice.company_id or (
            locked.customer_id != locked_invoice.customer_id
        ):
            raise CreditNoteRefused(
                "other_customer", "The invoice belongs to another customer.", "invoice", 400
            )
        if locked.currency != locked_invoice.currency:
            raise CreditNoteRefused(
                "currency_mismatch",
                "The credit note and the invoice are in different currencies.",
                "invoice",
                400,
            )
        if locked.status != CreditNoteStatus.ISSUED:
            raise CreditNoteRefused("invalid_status", f"The credit note is {locked.status}.")
        if locked_invoice.status not in UNPAID_STATUSES:
            raise CreditNoteRefused(
                "not_payable", f"The invoice is {locked_invoice.status}.", "invoice"
            )
        remaining, due = locked.remaining, locked_invoice.amount_due
        if remaining <= 0:
            raise CreditNoteRefused("spent", "Nothing of this credit note is left to apply.")
        if due <= 0:
            raise CreditNoteRefused("nothing_due", "Nothing is due on this invoice.", "invoice")
        if amount is None:
            amount = min(remaining, due)
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise CreditNoteRefused(
                "not_positive", "Enter an amount greater than zero.", "amount", 400
            )
        if amount > remaining:
            raise CreditNoteRefused(
                "over_remaining", f"Only {remaining} of this credit note remains.", "amount"
            )
        if amount > due:
            raise CreditNoteRefused("over_amount_due", f"The invoice owes only {due}.", "amount")
        application = CreditApplication.objects.create(
            company_id=locked.company_id,
            credit_note=locked,
            invoice=locked_invoice,
            amount=amount,
            applied_at=timezone.now(),
            applied_by=acting_user(actor),
        )
        locked.amount_applied += amount
        locked.save(update_fields=["amount_applied"])
        locked_invoice.amount_credited += amount
        locked_invoice.save(update_fields=["amount_credited", "updated_at"])
        events.record(
            company=locked_invoice.company,
            action="credit_note.applied",
            object_id=locked.public_id,
            actor=actor,
            invoice=locked_invoice.public_id,
            amount=amount,
        )
        if locked_invoice.amount_due <= 0:
            invoice_transition(
                invoice=locked_invoice,
                to_status=InvoiceStatus.PAID,
                actor=actor,
                reason=f"Settled by credit note {locked.number}",
            )
        note.amount_applied = locked.amount_applied
        return application


def _credit_applications_reverse(*, invoice: Invoice, actor: Actor) -> None:
    """Give the credit applied to ``invoice`` (locked by the caller) back to its notes."""
    now = timezone.now()
    for application in (
        CreditApplication.objects.select_for_update()
        .select_related("credit_note")
        .filter(invoice=invoice, reversed_at__isnull=True)
    ):
        CreditNote.objects.filter(pk=application.credit_note_id).update(
            amount_applied=F("amount_applied") - application.amount
        )
        application.reversed_at = now
        application.save(update_fields=["reversed_at"])
        invoice.amount_credited -= application.amount
        events.record(
            company=invoice.company,
            action="credit_note.application_reversed",
            object_id=application.credit_note.public_id,
            actor=actor,
            invoice=invoice.public_id,
            amount=application.amount,
        )
    Invoice.objects.filter(pk=invoice.pk).update(amount_credited=invoice.amount_credited)


def credit_auto_apply(*, invoice: Invoice, actor: Actor = None) -> int:
    """The customer's credit in the invoice's currency (issued notes' remaining amounts: credit
    notes, advance payments, surpluses), oldest note first, applied to a just-finalized invoice
    when the company asks for it. How much was applied."""
    company = Company.objects.only("credit_auto_apply").get(pk=invoice.company_id)
    if not company.credit_auto_apply:
        return 0
    applied = 0
    notes = CreditNote.objects.filter(
        company_id=invoice.company_id,
        customer_id=invoice.customer_id,
        currency=invoice.currency,
        status=CreditNoteStatus.ISSUED,
        amount__gt=F("amount_applied"),
    ).order_by("issued_at", "id")
    for note in notes:
        current = Invoice.objects.get(pk=invoice.pk)
        if current.status != InvoiceStatus.OPEN or current.amount_due <= 0:
            break
        try:
            applied += credit_note_apply(note=note, invoice=current, actor=actor).amount
        except CreditNoteRefused:
            continue  # spent or voided meanwhile: the next note
    if applied:
        invoice.refresh_from_db(fields=["status", "amount_credited", "paid_at"])
    return applied
