"""Reads for payments, each scoped to a company, an invoice or a webhook key."""

from __future__ import annotations

from django.db.models import QuerySet

from invoices import rows
from invoices.models import Company, Invoice
from payments.models import CheckoutAttempt, Payment, StripeConnection


def connection_for_webhook_key(webhook_key: str) -> StripeConnection | None:
    return (
        StripeConnection.objects.select_related("company")
        .filter(webhook_key=webhook_key, active=True)
        .first()
    )


def connection_for_company(*, company: Company) -> StripeConnection | None:
    return StripeConnection.objects.filter(company=company, active=True).first()


def attempt_for_invoice(*, invoice: Invoice, public_id: str) -> CheckoutAttempt | None:
    if not public_id:
        return None
    return CheckoutAttempt.objects.filter(invoice=invoice, public_id=public_id).first()


def payments_for_invoice(*, invoice: Invoice) -> QuerySet[Payment]:
    return Payment.objects.filter(company_id=invoice.company_id, invoice=invoice).order_by(
        "created_at", "id"
    )


def payment_for_company(*, company: Company, public_id: str) -> Payment | None:
    return (
        Payment.objects.select_related("company", "invoice")
        .filter(company=company, public_id=public_id)
        .first()
    )


def publishable_key_for(*, company: Company) -> str:
    """The key Stripe.js needs for the card on the page ('' hides the card form)."""
    key = (
        StripeConnection.objects.filter(company=company, active=True)
        .values_list("publishable_key", flat=True)
        .first()
    )
    return key or ""


def payment_for_invoice(*, invoice: Invoice, public_id: str) -> Payment | None:
    """One payment of ``invoice`` by its public id; another invoice's payment is None."""
    if not public_id:
        return None
    return (
        Payment.objects.select_related("invoice__company", "invoice__customer")
        .filter(company_id=invoice.company_id, invoice=invoice, public_id=public_id)
        .first()
    )


# The latest payment still standing (not wholly refunded), what a paid invoice's page links, as
# a scalar subquery for the page's one lookup (invoices.selectors.Annotations; ``i`` is the
# invoice): its id, NULL when none. What the page
# shows of it (when, how much, its receipt) never changes once recorded; a refund changes
# which payment this is.
LAST_PAYMENT_ID_SQL = (
    "SELECT id FROM payments_payment WHERE invoice_id = i.id AND status <> 'refunded'"
    " ORDER BY paid_at DESC, id DESC LIMIT 1"
)


# What a customer page shows of a payment it names (hand-written and prepared: read on first
# views of paid invoices' pages).
_SHOWN_FIELDS = ("id", "public_id", "amount", "currency", "paid_at")
_SHOWN_SQL = "SELECT {payment} FROM payments_payment p WHERE p.id = %(payment)s"


def payment_shown(*, payment_id: int) -> Payment | None:
    """The payment ``payment_id`` (read from a page's lookup, e.g. with LAST_PAYMENT_ID_SQL)
    with its public id, amount, currency and date. One query."""
    found = rows.fetch_all(
        _SHOWN_SQL.format(payment=rows.columns(Payment, "p", _SHOWN_FIELDS)),
        {"payment": payment_id},
        Payment,
        "p",
        _SHOWN_FIELDS,
    )
    return next((payment for payment in found if isinstance(payment, Payment)), None)
