"""The receipt for a payment: what it shows (``payment_receipt``) and its A4 PDF
(``receipt_pdf``, from templates/pdf/receipt.html with the invoice PDF's stylesheet and fonts).

Amounts and dates are formatted for the language asked for; the date is the company's calendar
day of the payment. The amount still due is the invoice's now."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from invoices.document import brand_color, date_display, invoice_bill_to, invoice_seller
from invoices.money import format_money
from invoices.pdf.render import render_pdf
from invoices.timezones import company_date
from payments.models import CheckoutAttempt, Payment, PaymentMethod

TEMPLATE = "pdf/receipt.html"


@dataclass(frozen=True)
class Receipt:
    number: str
    seller_name: str
    seller_address_lines: list[str]
    payer: str
    invoice_number: str
    amount: str
    method: str
    paid_on: str
    remaining_due: str
    reference: str
    brand_color: str
    # A share of a payment of several invoices: the whole payment and how it was allocated
    # (invoice number, amount), in allocation order; empty otherwise.
    payment_total: str = ""
    allocation: tuple[tuple[str, str], ...] = ()


def _method_label(payment: Payment) -> str:
    if payment.method in (PaymentMethod.CHECKOUT, PaymentMethod.CARD):
        return _("Card (online)")
    return str(PaymentMethod(payment.method).label)


def payment_receipt(*, payment: Payment, language: str) -> Receipt:
    """The receipt's values, in ``language``. ``payment.invoice`` with its company and
    customer should be loaded."""
    invoice = payment.invoice
    company = invoice.company
    with translation.override(language):
        seller = invoice_seller(invoice)
        return Receipt(
            number=payment.public_id,
            seller_name=seller.name,
            seller_address_lines=list(seller.address_lines),
            payer=invoice_bill_to(invoice).name,
            invoice_number=invoice.number,
            amount=format_money(payment.amount, payment.currency, language),
            method=_method_label(payment),
            paid_on=date_display(company_date(company, payment.paid_at), language),
            remaining_due=format_money(max(invoice.amount_due, 0), invoice.currency, language),
            reference=payment.reference,
            brand_color=brand_color(company),
            **_allocation(payment, language),
        )


def _allocation(payment: Payment, language: str) -> dict[str, Any]:
    """The other shares of the same payment of several invoices (one query), for the receipt
    to list where the money went."""
    if payment.attempt_id is None:
        return {}
    shares = list(
        Payment.objects.filter(attempt_id=payment.attempt_id).values_list(
            "invoice__public_id", "invoice__number", "amount"
        )
    )
    order = {
        str(part["invoice"]): index
        for index, part in enumerate(
            CheckoutAttempt.objects.filter(pk=payment.attempt_id).values_list("plan", flat=True)[0]
        )
    }
    shares.sort(key=lambda share: order.get(share[0], len(order)))
    return {
        "payment_total": format_money(sum(s[2] for s in shares), payment.currency, language),
        "allocation": tuple(
            (number, format_money(amount, payment.currency, language))
            for _public_id, number, amount in shares
        ),
    }


def receipt_pdf_filename(payment: Payment) -> str:
    return f"receipt-{payment.invoice.number}-{payment.public_id}.pdf"


def receipt_pdf(*, payment: Payment, language: str) -> bytes:
    """The receipt as an A4 PDF (WeasyPrint; a page, rendered on demand: it is small)."""
    receipt = payment_receipt(payment=payment, language=language)
    with translation.override(language):
        html = render_to_string(TEMPLATE, {"receipt": receipt, "language": language})
    return render_pdf(html)
