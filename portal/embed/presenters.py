"""Page data for the frame: the invoice list rows, formatted once with the portal's helpers."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from invoices.document import StatusBadge, date_display, invoice_status_badge
from invoices.models import Customer, Invoice
from invoices.money import format_money
from payments.gates import PayGate, pay_gate, stripe_connected
from portal.embed.selectors import embed_invoices_for_customer

# The frame shows one screenful; a customer with more open invoices than this is rare, and the
# company can send the full portal link for the history.
EMBED_LIST_LIMIT = 100


@dataclass(frozen=True)
class EmbedRow:
    public_id: str
    number: str
    issue_date: str
    due_date: str
    status: StatusBadge
    amount_due: str
    invoice: Invoice
    pay: PayGate


def embed_rows(
    *, customer: Customer, show_all: bool, locale: str, subscription: str = ""
) -> list[EmbedRow]:
    """The rows of the frame's list. ``customer`` must be loaded with its company.

    Queries: the invoices, and whether Stripe is connected (only when there are invoices).
    """
    company = customer.company
    invoices = list(
        embed_invoices_for_customer(
            customer=customer, show_all=show_all, subscription=subscription
        )[:EMBED_LIST_LIMIT]
    )
    connected = stripe_connected(company) if invoices else False
    today = timezone.localdate()
    rows = []
    for invoice in invoices:
        # The rows belong to this customer and company by the query: reuse the loaded objects
        # (pay_gate reads invoice.company.plan) instead of a join or a query per row.
        invoice.company = company
        invoice.customer = customer
        rows.append(
            EmbedRow(
                public_id=invoice.public_id,
                number=invoice.number,
                issue_date=date_display(invoice.issue_date, locale),
                due_date=date_display(invoice.due_date, locale),
                status=invoice_status_badge(invoice, today=today),
                amount_due=format_money(invoice.amount_due, invoice.currency, locale),
                invoice=invoice,
                pay=pay_gate(invoice=invoice, connected=connected),
            )
        )
    return rows
