"""Payments of an invoice: ``GET``/``POST /api/v1/invoices/<id>/payments`` (the POST records a
payment received outside Stripe)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field, StrictInt

from api.auth import company_of
from api.errors import ApiError, not_found
from api.examples import described
from api.invoices import get_invoice
from api.schemas import StrictSchema, body_doc, body_of
from invoices.models import Company
from invoices.timezones import company_day_start, company_today
from payments import selectors, services
from payments.models import Payment

router = Router(tags=["payments"])


class RefundOut(Schema):
    id: str = Field(description="rfd_…")
    amount: int = Field(description="Minor units")
    refunded_at: dt.datetime


class RefundIn(StrictSchema):
    amount: StrictInt | None = Field(
        default=None, le=10**15, description="Minor units; default everything not yet refunded"
    )


class PaymentOut(Schema):
    id: str = Field(description="pay_…")
    invoice: str = Field(description="inv_…")
    amount: int = Field(description="Minor units of the currency (1250 = 12.50 USD)")
    amount_refunded: int
    currency: str
    status: str = Field(description="succeeded, partially_refunded or refunded")
    method: str = Field(description="checkout, card, bank_transfer, cash, check or other")
    flagged_overpayment: bool = Field(
        description="More than was due when it arrived; kept for staff to refund or credit"
    )
    paid_at: dt.datetime
    reference: str
    refunds: list[RefundOut]
    created_at: dt.datetime


class OfflinePaymentIn(StrictSchema):
    amount: StrictInt = Field(
        le=10**15, description="Minor units; more than zero, at most the amount due"
    )
    method: Literal["bank_transfer", "cash", "check", "other"]
    paid_at: dt.date | dt.datetime | None = Field(
        default=None, description="When the money arrived (a date in the company's time zone)"
    )
    reference: str = Field(default="", max_length=200)


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
        paid_at=payment.paid_at,
        reference=payment.reference,
        refunds=[
            RefundOut(id=refund.public_id, amount=refund.amount, refunded_at=refund.refunded_at)
            for refund in payment.refunds.all()
        ],
        created_at=payment.created_at,
    )


def paid_at_value(company: Company, value: dt.date | dt.datetime | None) -> dt.datetime | None:
    """A client's ``paid_at``: a date is that day in the company's time zone; never later than
    today there."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        day = value.date() if value.tzinfo is None else None
        moment = value if value.tzinfo is not None else company_day_start(company, value.date())
    else:
        day, moment = value, company_day_start(company, value)
    if (day or moment.date()) > company_today(company):
        raise ApiError(400, "invalid", "paid_at cannot be in the future.", "paid_at")
    return moment


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
    payments = list(selectors.payments_for_invoice(invoice=invoice).prefetch_related("refunds"))
    return PaymentsOut(
        data=[payment_out(payment, invoice.public_id) for payment in payments],
        total_paid=sum(p.amount - p.amount_refunded for p in payments),
    )


@router.post(
    "/invoices/{invoice_id}/payments",
    response={201: PaymentOut},
    openapi_extra=body_doc(OfflinePaymentIn),
    **described(
        "Record an offline payment",
        "POST",
        "/invoices/inv_123/payments",
        {"amount": 5000, "method": "bank_transfer", "reference": "SEPA 2026-12-02"},
        "A payment received outside Stripe. Never more than is still owed (409).",
    ),
)
def record_offline_payment(request: HttpRequest, invoice_id: str) -> Status[PaymentOut]:
    """Record a payment received outside Stripe. Never more than is still owed (409)."""
    invoice = get_invoice(request, invoice_id)
    payload = body_of(request, OfflinePaymentIn)
    payment = services.payment_record_offline(
        invoice=invoice,
        amount=payload.amount,
        method=payload.method,
        paid_at=paid_at_value(invoice.company, payload.paid_at),
        reference=payload.reference,
        source="api",
    )
    return Status(201, payment_out(payment, invoice.public_id))


@router.post(
    "/payments/{payment_id}/refund",
    response=PaymentOut,
    openapi_extra=body_doc(RefundIn),
    **described(
        "Refund a payment",
        "POST",
        "/payments/pay_123/refund",
        {"amount": 1000},
        "Online payments are refunded through Stripe, offline ones recorded; without "
        "`amount`, everything not yet refunded.",
    ),
)
def refund_payment(request: HttpRequest, payment_id: str) -> PaymentOut:
    """Refund (part of) a payment: online payments through Stripe, offline ones recorded. The
    invoice owes the refunded amount again."""
    payment = selectors.payment_for_company(company=company_of(request), public_id=payment_id)
    if payment is None:
        raise not_found("Payment")
    payload = body_of(request, RefundIn)
    refunded = services.payment_refund(payment=payment, amount=payload.amount)
    return payment_out(refunded, payment.invoice.public_id)
