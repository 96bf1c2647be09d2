"""One payment for several invoices, the customer's credit used first, and advance payments.

The flow:

1. ``multi_payment_prepare`` checks a selection on the server (same company and customer,
   open, something due, one currency, at most MAX_INVOICES) and builds the allocation plan:
   each invoice's full amount due, one total allocated oldest due date first, or an amount per
   invoice; each part within the invoice's partial-payment rules and minimum. With
   ``apply_credit`` the customer's credit (issued credit notes' remaining amounts: earlier
   credit, advance payments, surpluses) is planned oldest note first, and the rest is the
   charge, which respects Stripe's minimum for the currency. Nothing is written: a refusal
   (MultiPayRefused) changes nothing.
2. ``multi_payment_start`` writes it under row locks on every target invoice (id order): the
   credit is applied at once; when it covers everything no card is needed (the attempt is
   succeeded at once); otherwise the attempt stores the plan and one Checkout Session with one
   line per invoice charges the rest.
3. ``multi_payment_apply`` (the redirect, the webhooks, in any order, any number of times)
   locks the invoices in id order, then the attempt, and applies the plan once: each invoice
   gets a share (a Payment linked to the attempt) capped at what it still owes; what found
   nothing owed any more becomes the customer's credit (a credit note), audited for staff.
4. Refunds of such a payment (Stripe's running total) reverse the shares newest allocation
   first, after any share staff or the API named (``refund_targets``).

Advance payments: ``advance_payment_start`` (the company allows it, within its minimum and
maximum) and ``advance_payment_apply``: the money becomes a credit note only once paid.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ApplicationError
from invoices import events
from invoices.events import Actor
from invoices.models import Company, CreditNote, Customer, Invoice, InvoiceStatus
from invoices.models.credit_note import CreditNoteStatus
from invoices.money import amount_step, format_money, minimum_charge, to_major
from invoices.services import (
    CreditNoteRefused,
    credit_note_apply,
    credit_note_create,
    invoice_transition,
)
from invoices.webhooks.services import event_emit
from payments import services, stripe_client
from payments.gates import invoice_is_stripe_native
from payments.models import (
    AttemptKind,
    AttemptPurpose,
    AttemptStatus,
    CheckoutAttempt,
    Payment,
    PaymentMethod,
    StripeConnection,
)

logger = logging.getLogger("payments")

MAX_INVOICES = 100


class MultiPayRefused(ApplicationError):
    """A selection, amount or credit that cannot be paid as asked, worded for the customer.
    Always a 4xx answer that changes nothing."""

    def __init__(self, message: str, *, code: str, status: int = 400) -> None:
        super().__init__(code, message, None, status)


@dataclass(frozen=True)
class Part:
    """What the payment gives one invoice: ``credit`` from credit notes (applied at once),
    ``charge`` from the card (applied when the payment succeeds)."""

    invoice: Invoice
    credit: int = 0
    charge: int = 0

    @property
    def amount(self) -> int:
        return self.credit + self.charge


@dataclass(frozen=True)
class CreditUse:
    note: CreditNote
    invoice: Invoice
    amount: int


@dataclass(frozen=True)
class Prepared:
    customer: Customer
    currency: str
    parts: list[Part]
    credit: list[CreditUse] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(part.amount for part in self.parts)

    @property
    def charge(self) -> int:
        return sum(part.charge for part in self.parts)

    @property
    def credit_total(self) -> int:
        return sum(use.amount for use in self.credit)


def allocation_order(invoice: Invoice) -> tuple[dt.date, dt.date, int, str]:
    """Oldest due date first, then issue date, then number (the sequence orders numbers)."""
    return (invoice.due_date, invoice.issue_date, invoice.sequence, invoice.number)


def _money(amount: int, currency: str, locale: str) -> str:
    return format_money(amount, currency, locale)


# Reads ------------------------------------------------------------------------------------


def invoices_due(
    *, customer: Customer, currency: str | None = None, limit: int = MAX_INVOICES
) -> list[Invoice]:
    """The customer's open invoices with something due, in allocation order, at most ``limit``
    (one query, on the customer-status index)."""
    found = Invoice.objects.filter(
        company_id=customer.company_id,
        customer=customer,
        status=InvoiceStatus.OPEN,
        total__gt=F("amount_paid") + F("amount_credited"),
    )
    if currency:
        found = found.filter(currency=currency)
    return list(found.order_by("due_date", "issue_date", "sequence", "number")[:limit])


def credit_notes_available(*, customer: Customer, currency: str) -> list[CreditNote]:
    """The customer's credit in ``currency``: issued credit notes with something left, the
    oldest first (one query)."""
    notes = CreditNote.objects.filter(
        company_id=customer.company_id,
        customer=customer,
        currency=currency,
        status=CreditNoteStatus.ISSUED,
    ).order_by("issued_at", "id")
    return [note for note in notes if note.remaining > 0]


def customer_has_credit(*, customer: Customer) -> bool:
    """Whether the customer has credit left in any currency (one query)."""
    return CreditNote.objects.filter(
        company_id=customer.company_id,
        customer=customer,
        status=CreditNoteStatus.ISSUED,
        amount__gt=F("amount_applied"),
    ).exists()


def credit_available(*, customer: Customer, currency: str) -> int:
    return sum(
        note.remaining for note in credit_notes_available(customer=customer, currency=currency)
    )


# Planning (no writes) ---------------------------------------------------------------------


def _selection(customer: Customer, public_ids: Sequence[str], locale: str) -> list[Invoice]:
    wanted = list(dict.fromkeys(pid.strip() for pid in public_ids if pid.strip()))
    if not wanted:
        raise MultiPayRefused(_("Select at least one invoice to pay."), code="nothing_selected")
    if len(wanted) > MAX_INVOICES:
        raise MultiPayRefused(
            _("At most %(count)s invoices can be paid at once.") % {"count": MAX_INVOICES},
            code="too_many",
        )
    found = list(
        Invoice.objects.filter(
            company_id=customer.company_id, customer=customer, public_id__in=wanted
        ).exclude(status=InvoiceStatus.DRAFT)
    )
    if len(found) != len(wanted):
        # Another customer's, another company's, a draft's or a made-up id: all the same.
        raise MultiPayRefused(
            _("One of the selected invoices cannot be paid here."), code="unknown_invoice"
        )
    for invoice in found:
        if invoice.status != InvoiceStatus.OPEN or invoice.amount_due <= 0:
            raise MultiPayRefused(
                _("Invoice %(number)s has nothing left to pay.") % {"number": invoice.number},
                code="not_payable",
            )
    for invoice in found:
        if invoice_is_stripe_native(invoice):
            # Stripe takes such an invoice's payment itself and cannot split one charge.
            raise MultiPayRefused(
                _("Invoice %(number)s is paid on its own page; pay it separately.")
                % {"number": invoice.number},
                code="stripe_invoice",
            )
    currencies = sorted({invoice.currency for invoice in found})
    if len(currencies) > 1:
        raise MultiPayRefused(
            _(
                "The selected invoices are in different currencies (%(currencies)s). "
                "Pay the invoices of one currency at a time."
            )
            % {"currencies": ", ".join(code.upper() for code in currencies)},
            code="mixed_currencies",
        )
    return sorted(found, key=allocation_order)


def _part_check(invoice: Invoice, amount: int, locale: str) -> None:
    """One invoice's part: more than zero, in the currency's step, at most what is due, and a
    partial part only where the invoice allows it and not under its minimum. Stripe's minimum
    is the whole charge's concern, not each part's."""
    due, currency = invoice.amount_due, invoice.currency
    number = invoice.number
    if amount <= 0:
        raise MultiPayRefused(
            _("Enter an amount greater than zero for invoice %(number)s.") % {"number": number},
            code="not_positive",
        )
    if amount % amount_step(currency):
        raise MultiPayRefused(
            _("%(currency)s amounts must be a multiple of %(step)s.")
            % {"currency": currency.upper(), "step": to_major(amount_step(currency), currency)},
            code="step",
        )
    if amount > due:
        raise MultiPayRefused(
            _("Invoice %(number)s owes %(due)s; you cannot pay more on it.")
            % {"number": number, "due": _money(due, currency, locale)},
            code="over_amount_due",
        )
    if amount < due:
        if not invoice.allow_partial_payments:
            raise MultiPayRefused(
                _("Invoice %(number)s must be paid in full: %(due)s.")
                % {"number": number, "due": _money(due, currency, locale)},
                code="partial_not_allowed",
            )
        floor = max(minimum_charge(currency), invoice.minimum_payment or 0)
        if amount < floor:
            raise MultiPayRefused(
                _("The smallest payment accepted on invoice %(number)s is %(minimum)s.")
                % {"number": number, "minimum": _money(floor, currency, locale)},
                code="below_minimum",
            )


def _amounts(
    invoices: list[Invoice], total: int | None, per_invoice: dict[str, int], locale: str
) -> list[tuple[Invoice, int]]:
    if total is not None:
        currency = invoices[0].currency
        due = sum(invoice.amount_due for invoice in invoices)
        if total <= 0:
            raise MultiPayRefused(_("Enter an amount greater than zero."), code="not_positive")
        if total > due:
            raise MultiPayRefused(
                _("The selected invoices owe %(due)s; you cannot pay more.")
                % {"due": _money(due, currency, locale)},
                code="over_amount_due",
            )
        left, chosen = total, []
        for invoice in invoices:
            if left <= 0:
                break
            part = min(left, invoice.amount_due)
            chosen.append((invoice, part))
            left -= part
        return chosen
    return [
        (invoice, per_invoice.get(invoice.public_id, invoice.amount_due)) for invoice in invoices
    ]


def _credit_plan(
    amounts: list[tuple[Invoice, int]], notes: list[CreditNote], currency: str
) -> tuple[list[Part], list[CreditUse]]:
    """Credit notes (oldest first) over the parts (allocation order); the rest is charged.
    A charge left under Stripe's minimum takes less credit, so the card can pay it."""
    uses: list[CreditUse] = []
    note_left = {note.pk: note.remaining for note in notes}
    covered = [0] * len(amounts)
    for index, (invoice, amount) in enumerate(amounts):
        for note in notes:
            take = min(note_left[note.pk], amount - covered[index])
            if take > 0:
                uses.append(CreditUse(note=note, invoice=invoice, amount=take))
                note_left[note.pk] -= take
                covered[index] += take
    charge = sum(amount for _invoice, amount in amounts) - sum(covered)
    short = minimum_charge(currency) - charge if charge > 0 else 0
    while short > 0 and uses:
        last = uses.pop()
        give_back = min(short, last.amount)
        short -= give_back
        index = next(i for i, (inv, _a) in enumerate(amounts) if inv.pk == last.invoice.pk)
        covered[index] -= give_back
        if last.amount > give_back:
            uses.append(
                CreditUse(note=last.note, invoice=last.invoice, amount=last.amount - give_back)
            )
            break
    parts = [
        Part(invoice=invoice, credit=covered[index], charge=amount - covered[index])
        for index, (invoice, amount) in enumerate(amounts)
    ]
    return parts, uses


def multi_payment_prepare(
    *,
    customer: Customer,
    public_ids: Sequence[str],
    total: int | None = None,
    per_invoice: dict[str, int] | None = None,
    apply_credit: bool = False,
    locale: str = "en",
) -> Prepared:
    """The checked plan of a payment of several invoices (reads only; MultiPayRefused)."""
    invoices = _selection(customer, public_ids, locale)
    currency = invoices[0].currency
    unknown = set(per_invoice or {}) - {invoice.public_id for invoice in invoices}
    if unknown:
        raise MultiPayRefused(
            _("An amount was given for an invoice that is not selected."), code="unknown_invoice"
        )
    amounts = _amounts(invoices, total, per_invoice or {}, locale)
    for invoice, amount in amounts:
        _part_check(invoice, amount, locale)
    notes = credit_notes_available(customer=customer, currency=currency) if apply_credit else []
    parts, uses = _credit_plan(amounts, notes, currency)
    prepared = Prepared(customer=customer, currency=currency, parts=parts, credit=uses)
    if 0 < prepared.charge < minimum_charge(currency):
        raise MultiPayRefused(
            _("Card payments start at %(minimum)s; please contact us to pay this amount.")
            % {"minimum": _money(minimum_charge(currency), currency, locale)},
            code="below_card_minimum",
        )
    return prepared


# Starting ---------------------------------------------------------------------------------


def _lock_invoices(company_id: int, public_ids: Iterable[str]) -> dict[str, Invoice]:
    """Row locks on the invoices, always in id order (as every multi-invoice write takes them,
    so two never wait on each other in a circle)."""
    # Only the invoice rows (of=self): the company row is locked later, when a credit note
    # is numbered, in the order every payment takes them (invoice, then company).
    locked = (
        Invoice.objects.select_for_update(of=("self",))
        .select_related("company", "customer")
        .filter(company_id=company_id, public_id__in=list(public_ids))
        .order_by("id")
    )
    return {invoice.public_id: invoice for invoice in locked}


def _credit_write(
    prepared: Prepared, locked: dict[str, Invoice], locale: str
) -> list[dict[str, object]]:
    """Apply the planned credit (locks held); a plan overtaken by another payment or a change
    of the credit meanwhile is refused, and the caller's transaction rolls back."""
    for part in prepared.parts:
        now = locked[part.invoice.public_id]
        if now.status != InvoiceStatus.OPEN or now.amount_due < part.amount:
            raise MultiPayRefused(
                _("Invoice %(number)s changed meanwhile. Please review and try again.")
                % {"number": now.number},
                code="changed",
                status=409,
            )
    written: list[dict[str, object]] = []
    for use in prepared.credit:
        try:
            credit_note_apply(
                note=use.note, invoice=locked[use.invoice.public_id], amount=use.amount
            )
        except CreditNoteRefused:
            raise MultiPayRefused(
                _("Your credit changed meanwhile. Please review and try again."),
                code="changed",
                status=409,
            ) from None
        written.append(
            {
                "invoice": use.invoice.public_id,
                "credit_note": use.note.public_id,
                "amount": use.amount,
            }
        )
    return written


def _plan_json(prepared: Prepared) -> list[dict[str, object]]:
    return [
        {"invoice": part.invoice.public_id, "number": part.invoice.number, "amount": part.charge}
        for part in prepared.parts
        if part.charge > 0
    ]


def _reusable(prepared: Prepared) -> CheckoutAttempt | None:
    """A double click or a retry asks for the same plan: the same open attempt answers."""
    if prepared.credit:
        return None
    return (
        CheckoutAttempt.objects.filter(
            company_id=prepared.customer.company_id,
            customer=prepared.customer,
            purpose=AttemptPurpose.INVOICES,
            status=AttemptStatus.OPEN,
            plan=_plan_json(prepared),
            created_at__gte=timezone.now() - services.ATTEMPT_REUSE_WINDOW,
        )
        .exclude(checkout_url="")
        .order_by("-created_at")
        .first()
    )


def multi_payment_start(
    *, prepared: Prepared, return_base_url: str, locale: str = "en"
) -> CheckoutAttempt:
    """Write the payment: the credit now, and for the rest a Checkout Session with one line
    per invoice (its url on the attempt). With nothing to charge, the attempt is succeeded.
    ``return_base_url`` is the portal (``…/portal/<token>``); the result page lives below."""
    customer = prepared.customer
    company = customer.company
    if (
        prepared.charge > 0
        and not StripeConnection.objects.filter(company=company, active=True).exists()
    ):
        raise MultiPayRefused(
            _("Online payment is not available right now."), code="not_connected", status=409
        )
    reused = _reusable(prepared)
    if reused is not None:
        return reused
    with transaction.atomic():
        locked = _lock_invoices(company.pk, (part.invoice.public_id for part in prepared.parts))
        credited = _credit_write(prepared, locked, locale)
        attempt = CheckoutAttempt(
            company=company,
            customer=customer,
            purpose=AttemptPurpose.INVOICES,
            kind=AttemptKind.CHECKOUT,
            amount=prepared.charge,
            currency=prepared.currency,
            amount_paid_before=0,
            plan=_plan_json(prepared),
            credit_applied=credited,
            status=AttemptStatus.SUCCEEDED if prepared.charge == 0 else AttemptStatus.OPEN,
        )
        attempt.idempotency_key = f"invoice-portal-invoices-{attempt.public_id}"
        attempt.save()
        if credited:
            events.record(
                company=company,
                action="payment.credit_applied",
                object_id=attempt.public_id,
                customer=customer.public_id,
                applications=credited,
            )
        if prepared.charge == 0:
            transaction.on_commit(lambda: _announce_paid(attempt.pk), robust=True)
    if prepared.charge == 0:
        return attempt
    query = f"?attempt={attempt.public_id}&lang={locale}"
    session = stripe_client.checkout_session_create(
        secret_key=services._secret_key(company),
        amount=attempt.amount,
        currency=attempt.currency,
        description=_("Invoices from %(company)s") % {"company": company.name},
        customer_email=customer.email or None,
        metadata={"attempt": attempt.public_id, "purpose": AttemptPurpose.INVOICES},
        success_url=f"{return_base_url}/pay/result{query}",
        cancel_url=f"{return_base_url}/pay/result{query}&cancelled=1",
        idempotency_key=f"{attempt.idempotency_key}:{locale}",
        locale=locale,
        lines=[
            (
                _("Invoice %(number)s") % {"number": part["number"]},
                int(str(part["amount"])),
            )
            for part in attempt.plan
        ],
    )
    CheckoutAttempt.objects.filter(pk=attempt.pk).update(
        provider_id=session.id,
        provider_intent_id=session.payment_intent or "",
        checkout_url=session.url or "",
        updated_at=timezone.now(),
    )
    attempt.refresh_from_db()
    return attempt


# Applying ---------------------------------------------------------------------------------


def _announce_paid(attempt_pk: int) -> None:
    """Outgoing event of a multi-invoice payment settled (after commit)."""
    attempt = CheckoutAttempt.objects.select_related("company").get(pk=attempt_pk)
    event_emit(
        company=attempt.company,
        type="payment.succeeded",
        object_id=attempt.public_id,
        data={
            "object": "multi_payment",
            "id": attempt.public_id,
            "amount": attempt.amount,
            "currency": attempt.currency,
            "invoices": [part["invoice"] for part in attempt.plan]
            + [use["invoice"] for use in attempt.credit_applied],
        },
    )


def multi_payment_apply(
    *,
    company: Company,
    attempt_public_id: str,
    intent_id: str,
    amount: int,
    currency: str,
    charge_id: str = "",
    session_id: str = "",
    source: str = "webhook",
) -> CheckoutAttempt | None:
    """Apply a succeeded payment of several invoices, once, whoever reports it first. Each
    invoice gets at most what it still owes; the rest becomes the customer's credit."""
    attempt = CheckoutAttempt.objects.filter(
        company=company, public_id=attempt_public_id, purpose=AttemptPurpose.INVOICES
    ).first()
    if attempt is None:
        return None
    with transaction.atomic():
        locked = _lock_invoices(company.pk, (str(part["invoice"]) for part in attempt.plan))
        attempt = CheckoutAttempt.objects.select_for_update().get(pk=attempt.pk)
        if attempt.status == AttemptStatus.SUCCEEDED and attempt.provider_intent_id:
            return attempt
        money_left = amount
        applied = 0
        for part in attempt.plan:
            invoice = locked.get(str(part["invoice"]))
            if invoice is None:
                continue
            owed = 0
            if currency == invoice.currency and invoice.status in services.PAYABLE_STATUSES:
                owed = max(invoice.amount_due, 0)
            take = min(int(str(part["amount"])), owed, money_left)
            if take <= 0:
                continue
            _share_record(
                company=company,
                attempt=attempt,
                invoice=invoice,
                amount=take,
                currency=currency,
                charge_id=charge_id,
                session_id=session_id,
                source=source,
            )
            money_left -= take
            applied += take
        surplus = amount - applied
        if surplus > 0 and attempt.customer_id is not None:
            note = credit_note_create(
                company=company,
                customer=attempt.customer,  # type: ignore[arg-type]
                currency=currency,
                amount=surplus,
                reason=f"Surplus of payment {attempt.public_id}",
            )
            attempt.surplus, attempt.credit_note = surplus, note
            events.record(
                company=company,
                action="payment.overpaid",
                object_id=attempt.public_id,
                amount=amount,
                surplus=surplus,
                currency=currency,
                handling="credit",
                credit_note=note.public_id,
            )
            logger.warning("payment.flagged attempt=%s surplus=%s", attempt.public_id, surplus)
        attempt.status = AttemptStatus.SUCCEEDED
        attempt.provider_intent_id = intent_id
        attempt.error = ""
        attempt.save(
            update_fields=[
                "status",
                "provider_intent_id",
                "error",
                "surplus",
                "credit_note",
                "updated_at",
            ]
        )
        transaction.on_commit(lambda: _announce_paid(attempt.pk), robust=True)
        return attempt


def _share_record(
    *,
    company: Company,
    attempt: CheckoutAttempt,
    invoice: Invoice,
    amount: int,
    currency: str,
    charge_id: str,
    session_id: str,
    source: str,
) -> Payment:
    """One invoice's share (its lock held): a payment of its own, amount_paid, paid status."""
    try:
        with transaction.atomic():
            payment = Payment.objects.create(
                company=company,
                invoice=invoice,
                attempt=attempt,
                amount=amount,
                currency=currency,
                provider_charge_id=charge_id,
                provider_checkout_session_id=session_id,
                method=PaymentMethod.CHECKOUT,
                source=source,
            )
    except IntegrityError:  # belt and braces: the attempt's lock already serialises
        return Payment.objects.get(attempt=attempt, invoice=invoice)
    invoice.amount_paid += amount
    invoice.save(update_fields=["amount_paid", "updated_at"])
    events.record(
        company=company,
        action="payment.recorded",
        object_id=payment.public_id,
        invoice=invoice.public_id,
        attempt=attempt.public_id,
        amount=amount,
        currency=currency,
        method=payment.method,
        source=source,
        applied=amount,
        surplus=0,
    )
    event_emit(
        company=company,
        type="payment.succeeded",
        object_id=payment.public_id,
        data={**services.payment_data(payment, invoice), "source": source},
    )
    if invoice.status in services.PAYABLE_STATUSES and invoice.amount_due <= 0:
        invoice_transition(
            invoice=invoice,
            to_status=InvoiceStatus.PAID,
            reason=f"Paid online ({payment.public_id}, with other invoices)",
        )
    return payment


def multi_payment_reconcile(*, attempt: CheckoutAttempt) -> str:
    """After Checkout's redirect: Stripe's word on the session, applied if it was paid (the
    webhook may have done it already). Returns the attempt's state."""
    if attempt.status == AttemptStatus.SUCCEEDED or not attempt.provider_id:
        return str(attempt.status)
    secret_key = services._secret_key(attempt.company)
    session = stripe_client.checkout_session_retrieve(
        secret_key=secret_key, session_id=attempt.provider_id
    )
    if session.status == "expired":
        CheckoutAttempt.objects.filter(pk=attempt.pk, status=AttemptStatus.OPEN).update(
            status=AttemptStatus.EXPIRED, updated_at=timezone.now()
        )
        return AttemptStatus.EXPIRED
    if session.payment_intent is None:
        return AttemptStatus.OPEN
    intent = stripe_client.payment_intent_retrieve(
        secret_key=secret_key, intent_id=session.payment_intent
    )
    if intent.status == "processing":
        return AttemptStatus.PROCESSING
    if intent.status != "succeeded":
        return AttemptStatus.OPEN
    apply = advance_payment_apply if attempt.purpose == AttemptPurpose.ADVANCE else None
    if apply is not None:
        apply(
            company=attempt.company,
            attempt_public_id=attempt.public_id,
            intent_id=intent.id,
            amount=intent.amount_received or intent.amount,
            currency=intent.currency,
        )
    else:
        multi_payment_apply(
            company=attempt.company,
            attempt_public_id=attempt.public_id,
            intent_id=intent.id,
            amount=intent.amount_received or intent.amount,
            currency=intent.currency,
            charge_id=intent.latest_charge or "",
            session_id=session.id,
            source="redirect",
        )
    return AttemptStatus.SUCCEEDED


# Refunds ----------------------------------------------------------------------------------


def multi_refund_record(
    *, company: Company, intent_id: str, amount_refunded: int, provider_refund_id: str = ""
) -> CheckoutAttempt | None:
    """Apply Stripe's running total of refunds of a multi-invoice payment: the new part goes
    first to the shares staff or the API asked for (``refund_targets``, in order), then to the
    shares newest allocation first. The total, not a delta, so repeats change nothing."""
    attempt = CheckoutAttempt.objects.filter(
        company=company,
        provider_intent_id=intent_id,
        purpose=AttemptPurpose.INVOICES,
        status=AttemptStatus.SUCCEEDED,
    ).first()
    if attempt is None:
        return None
    with transaction.atomic():
        shares = list(Payment.objects.filter(attempt=attempt).select_related("invoice"))
        locked = _lock_invoices(company.pk, (share.invoice.public_id for share in shares))
        attempt = CheckoutAttempt.objects.select_for_update().get(pk=attempt.pk)
        delta = min(amount_refunded, attempt.amount) - attempt.amount_refunded
        if delta <= 0:
            return attempt
        by_id = {
            share.public_id: share
            for share in Payment.objects.select_for_update().filter(attempt=attempt)
        }
        order = [str(part["invoice"]) for part in attempt.plan]
        newest_first = sorted(
            by_id.values(), key=lambda share: order.index(share.invoice.public_id), reverse=True
        )
        targets = list(attempt.refund_targets)
        queue: list[tuple[Payment, int]] = []
        while targets:
            target = targets[0]
            share = by_id.get(str(target["payment"]))
            wanted = int(str(target["amount"]))
            if share is None:
                targets.pop(0)
                continue
            queue.append((share, wanted))
            targets.pop(0)
        queue += [(share, share.amount) for share in newest_first]
        left = delta
        for share, wanted in queue:
            take = min(left, wanted, share.amount - share.amount_refunded)
            if take <= 0:
                continue
            services._refund_apply(
                invoice=locked[share.invoice.public_id],
                payment=share,
                delta=take,
                provider_refund_id=provider_refund_id,
            )
            left -= take
            if left <= 0:
                break
        if left > 0:
            logger.warning(
                "payment.refund_beyond_shares attempt=%s amount=%s", attempt.public_id, left
            )
        attempt.amount_refunded += delta
        attempt.refund_targets = _targets_consumed(attempt.refund_targets, delta)
        attempt.save(update_fields=["amount_refunded", "refund_targets", "updated_at"])
        return attempt


def _targets_consumed(targets: list[dict[str, object]], delta: int) -> list[dict[str, object]]:
    left, kept = delta, []
    for target in targets:
        amount = int(str(target["amount"]))
        if left >= amount:
            left -= amount
            continue
        kept.append({**target, "amount": amount - left})
        left = 0
    return kept


def share_refund(*, payment: Payment, amount: int | None = None, actor: Actor = None) -> Payment:
    """Refund (part of) one invoice's share of a multi-invoice payment through Stripe: the
    share is named as the refund's target before Stripe is asked, so whichever records it (this
    call or charge.refunded) gives it to that share."""
    assert payment.attempt_id is not None  # payment_refund sends only shares here
    attempt = CheckoutAttempt.objects.select_related("company").get(pk=payment.attempt_id)
    wanted = services._refundable(payment, amount)
    key = f"invoice-portal-refund-{payment.public_id}-{payment.amount_refunded}-{wanted}"
    with transaction.atomic():
        locked = CheckoutAttempt.objects.select_for_update().get(pk=attempt.pk)
        if not any(target.get("key") == key for target in locked.refund_targets):
            locked.refund_targets = [
                *locked.refund_targets,
                {"key": key, "payment": payment.public_id, "amount": wanted},
            ]
            locked.save(update_fields=["refund_targets", "updated_at"])
    try:
        result = stripe_client.refund_create(
            secret_key=services._secret_key(attempt.company),
            intent_id=attempt.provider_intent_id,
            amount=wanted,
            idempotency_key=key,
        )
    except stripe_client.PaymentProviderError:
        with transaction.atomic():
            locked = CheckoutAttempt.objects.select_for_update().get(pk=attempt.pk)
            locked.refund_targets = [t for t in locked.refund_targets if t.get("key") != key]
            locked.save(update_fields=["refund_targets", "updated_at"])
        raise
    events.record(
        company=attempt.company,
        action="payment.refund_requested",
        object_id=payment.public_id,
        actor=actor,
        refund=result.id,
        amount=result.amount,
    )
    multi_refund_record(
        company=attempt.company,
        intent_id=attempt.provider_intent_id,
        amount_refunded=result.charge_amount_refunded,
        provider_refund_id=result.id,
    )
    payment.refresh_from_db()
    return payment


# Advance payments -------------------------------------------------------------------------


def advance_payment_limits(company: Company, currency: str) -> tuple[int, int | None]:
    """The smallest and largest advance payment (minor units; None: no maximum)."""
    floor = max(minimum_charge(currency), company.advance_payment_minimum or 0)
    return floor, company.advance_payment_maximum


def advance_payment_check(*, customer: Customer, amount: int, currency: str, locale: str) -> None:
    company = customer.company
    if not company.advance_payments:
        raise MultiPayRefused(
            _("Advance payments are not offered."), code="advance_payments_off", status=403
        )
    if amount % amount_step(currency):
        raise MultiPayRefused(
            _("%(currency)s amounts must be a multiple of %(step)s.")
            % {"currency": currency.upper(), "step": to_major(amount_step(currency), currency)},
            code="step",
        )
    floor, ceiling = advance_payment_limits(company, currency)
    if amount < floor:
        raise MultiPayRefused(
            _("The smallest advance payment is %(minimum)s.")
            % {"minimum": _money(floor, currency, locale)},
            code="below_minimum",
        )
    if ceiling is not None and amount > ceiling:
        raise MultiPayRefused(
            _("The largest advance payment is %(maximum)s.")
            % {"maximum": _money(ceiling, currency, locale)},
            code="over_maximum",
        )


def advance_payment_start(
    *, customer: Customer, amount: int, currency: str, return_base_url: str, locale: str = "en"
) -> CheckoutAttempt:
    """A Checkout Session for an advance payment (checked by advance_payment_check first)."""
    advance_payment_check(customer=customer, amount=amount, currency=currency, locale=locale)
    company = customer.company
    if not StripeConnection.objects.filter(company=company, active=True).exists():
        raise MultiPayRefused(
            _("Online payment is not available right now."), code="not_connected", status=409
        )
    attempt = CheckoutAttempt(
        company=company,
        customer=customer,
        purpose=AttemptPurpose.ADVANCE,
        kind=AttemptKind.CHECKOUT,
        amount=amount,
        currency=currency,
        amount_paid_before=0,
    )
    attempt.idempotency_key = f"invoice-portal-advance-{attempt.public_id}"
    attempt.save()
    query = f"?attempt={attempt.public_id}&lang={locale}"
    session = stripe_client.checkout_session_create(
        secret_key=services._secret_key(company),
        amount=amount,
        currency=currency,
        description=_("Advance payment to %(company)s") % {"company": company.name},
        customer_email=customer.email or None,
        metadata={"attempt": attempt.public_id, "purpose": AttemptPurpose.ADVANCE},
        success_url=f"{return_base_url}/pay/result{query}",
        cancel_url=f"{return_base_url}/pay/result{query}&cancelled=1",
        idempotency_key=f"{attempt.idempotency_key}:{locale}",
        locale=locale,
    )
    CheckoutAttempt.objects.filter(pk=attempt.pk).update(
        provider_id=session.id,
        provider_intent_id=session.payment_intent or "",
        checkout_url=session.url or "",
        updated_at=timezone.now(),
    )
    attempt.refresh_from_db()
    return attempt


def advance_payment_apply(
    *, company: Company, attempt_public_id: str, intent_id: str, amount: int, currency: str
) -> CheckoutAttempt | None:
    """A succeeded advance payment becomes a credit note for the customer, once."""
    with transaction.atomic():
        attempt = (
            CheckoutAttempt.objects.select_for_update()
            .filter(company=company, public_id=attempt_public_id, purpose=AttemptPurpose.ADVANCE)
            .first()
        )
        if attempt is None or attempt.customer is None:
            return None
        if attempt.status == AttemptStatus.SUCCEEDED:
            return attempt
        note = credit_note_create(
            company=company,
            customer=attempt.customer,
            currency=currency,
            amount=amount,
            reason=f"Advance payment {attempt.public_id}",
        )
        attempt.credit_note = note
        attempt.status = AttemptStatus.SUCCEEDED
        attempt.provider_intent_id = intent_id
        attempt.save(update_fields=["credit_note", "status", "provider_intent_id", "updated_at"])
        events.record(
            company=company,
            action="payment.advance_received",
            object_id=attempt.public_id,
            customer=attempt.customer.public_id,
            amount=amount,
            currency=currency,
            credit_note=note.public_id,
        )
        return attempt


def attempt_apply_from_stripe(
    *,
    company: Company,
    metadata: dict[str, str],
    intent_id: str,
    amount: int,
    currency: str,
    charge_id: str = "",
    session_id: str = "",
    source: str = "webhook",
) -> bool:
    """Webhooks: a succeeded payment of one of our multi-invoice or advance attempts is applied
    here (True); anything else is the single-invoice flow's (False)."""
    purpose = metadata.get("purpose", "")
    attempt_id = metadata.get("attempt", "")
    if purpose == AttemptPurpose.INVOICES:
        multi_payment_apply(
            company=company,
            attempt_public_id=attempt_id,
            intent_id=intent_id,
            amount=amount,
            currency=currency,
            charge_id=charge_id,
            session_id=session_id,
            source=source,
        )
        return True
    if purpose == AttemptPurpose.ADVANCE:
        advance_payment_apply(
            company=company,
            attempt_public_id=attempt_id,
            intent_id=intent_id,
            amount=amount,
            currency=currency,
        )
        return True
    return False
