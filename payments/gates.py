"""Whether an invoice can be paid online now. The page, the portal, the embed and the pay
endpoints all ask this one function, so a hidden button and a refused request never disagree."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrPromise

from invoices.models import Company, Invoice, InvoiceStatus
from invoices.models.company import Plan


@dataclass(frozen=True)
class PayGate:
    allowed: bool
    # Why not, in words a customer can read (None when allowed).
    reason: StrPromise | None = None


@dataclass(frozen=True)
class StripeState:
    """What a page needs to know of the company's Stripe connection, read once."""

    connected: bool
    # For the card on the page ("" when the company saved none: Checkout only).
    publishable_key: str = ""


# The same answer as stripe_state, as a scalar subquery for a page's one lookup
# (invoices.selectors.Annotations; ``c`` is the company): the publishable key ("" when none was
# saved), NULL when Stripe is not connected. Read it back with stripe_state_from.
STRIPE_STATE_SQL = (
    "SELECT publishable_key FROM payments_stripeconnection"
    " WHERE company_id = c.id AND active ORDER BY id LIMIT 1"
)


def stripe_state_from(publishable_key: str | None) -> StripeState:
    """The StripeState of a STRIPE_STATE_SQL value."""
    return StripeState(connected=publishable_key is not None, publishable_key=publishable_key or "")


def stripe_state(company: Company) -> StripeState:
    """Whether Stripe is connected, and its publishable key. One query."""
    from payments.models import StripeConnection  # defined by the payments app

    row = (
        StripeConnection.objects.filter(company=company, active=True)
        .values_list("publishable_key", flat=True)
        .first()
    )
    return StripeState(connected=row is not None, publishable_key=row or "")


def stripe_connected(company: Company) -> bool:
    """Whether the company has connected its Stripe account (see payments.models)."""
    from payments.models import StripeConnection  # defined by the payments app

    return StripeConnection.objects.filter(company=company, active=True).exists()


def pay_gate(*, invoice: Invoice, connected: bool) -> PayGate:
    """All four must hold: Stripe connected, Pro plan, invoice open, an amount still due.
    ``connected`` is passed in so a page listing many invoices asks the database once."""
    if invoice.status == InvoiceStatus.PAID:
        return PayGate(False, _("This invoice is paid."))
    if invoice.status != InvoiceStatus.OPEN:
        return PayGate(False, _("This invoice cannot be paid online."))
    if invoice.amount_due <= 0:
        return PayGate(False, _("Nothing is due on this invoice."))
    if invoice.company.plan != Plan.PRO or not connected:
        return PayGate(False, _("Online payment is not available for this invoice."))
    return PayGate(True)


def invoice_is_stripe_native(invoice: Invoice) -> bool:
    """Issued in the company's own Stripe account (imported by Stripe sync): Stripe holds its
    state and takes its payments, one invoice per payment (a PaymentIntent attached to it, or
    its hosted page). Several such invoices cannot share one charge: Stripe cannot split a
    payment across invoices, so a multi-invoice payment must refuse them."""
    return invoice.is_stripe_native
