"""``GET /api/v1/invoices/<id>/payments``: the payments recorded for an invoice."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import Field

from api.examples import described
from api.invoices import get_invoice
from payments import selectors
from payments.models import Payment

router = Router(tags=["payments"])


class PaymentOut(Schema):
    id: str = Field(description="pay_…")
    invoice: str = Field(description="inv_…")
    amount: int = Field(description="Minor units of the currency (1250 = 12.50 USD)")
    amount_refunded: int
    currency: str
    status: str = Field(description="succeeded, partially_refunded or refunded")
    method: str = Field(description="checkout or card")
    flagged_overpayment: bool = Field(
        description="More than was due when it arrived; kept for staff to refund or credit"
    )
    created_at: dt.datetime


class PaymentsOut(Schema):
    data: list[PaymentOut]
    total_paid: int = Field(description="Sum of amounts less refunds, minor units")


def payment_out(payment: Payment, invoice_public_id: str) -> PaymentOut:
    return PaymentOut(
        id=payment.public_id,
        invoice=invoice_public_id,
        amount=payment.amount,
        amount_refunded=payment.amount_refunded,
        currency=payment.currency,
        status=payment.status,
        method=payment.method,
        flagged_overpayment=payment.flagged_overpayment,
        created_at=payment.created_at,
    )


@router.get(
    "/invoices/{invoice_id}/payments",
    response=PaymentsOut,
    **described(
        "List an invoice's payments",
        "GET",
        "/invoices/inv_123/payments",
        None,
        "Every payment recorded for the invoice, oldest first.",
    ),
)
def invoice_payments(request: HttpRequest, invoice_id: str) -> PaymentsOut:
    """Every payment recorded for the invoice, oldest first."""
    invoice = get_invoice(request, invoice_id)
    payments = list(selectors.payments_for_invoice(invoice=invoice))
    return PaymentsOut(
        data=[payment_out(payment, invoice.public_id) for payment in payments],
        total_paid=sum(p.amount - p.amount_refunded for p in payments),
    )
