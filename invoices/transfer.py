"""Paying an invoice by bank transfer: what the page and the PDF show, and the EPC QR code.

The QR code follows EPC069-12 ("Quick Response Code: guidelines to enable data capture for
the initiation of a SEPA credit transfer", the "GiroCode"): version 002, UTF-8, SCT, the
beneficiary's BIC, name and IBAN, the amount in euro and either the structured creditor
reference (RF…) or the unstructured remittance text. Banking apps read exactly these fields,
so the payload is built here once and tested field by field. It exists for EUR only: SEPA
credit transfers are in euro.
"""

from __future__ import annotations

import base64
import functools
from dataclasses import dataclass
from decimal import Decimal

from invoices.bank_details import compact, iban_display, payment_reference
from invoices.models import Invoice, InvoiceStatus
from invoices.money import format_money

EPC_MAX_BYTES = 331
# EPC069-12: "EUR" then 0.01 to 999999999.99.
EPC_MAX_CENTS = 99_999_999_999


@dataclass(frozen=True)
class BankTransfer:
    """The "Pay by bank transfer" block: display strings, the QR code as a data: URI."""

    holder: str
    iban: str  # grouped by four for reading; copy buttons copy ``iban_compact``
    iban_compact: str
    bic: str
    amount: str
    reference: str
    qr_src: str  # "" unless the invoice is in EUR
    epc_payload: str


def epc_payload(
    *, holder: str, iban: str, bic: str, amount_cents: int, reference: str, structured: bool
) -> str:
    """The EPC069-12 payload (version 002, UTF-8, SCT). ``structured``: ``reference`` is an
    ISO 11649 creditor reference (field 10), else remittance text (field 11)."""
    if not 0 < amount_cents <= EPC_MAX_CENTS:
        amount = ""
    else:
        amount = f"EUR{Decimal(amount_cents).scaleb(-2):.2f}"
    lines = [
        "BCD",
        "002",
        "1",  # UTF-8
        "SCT",
        compact(bic),
        holder.strip()[:70],
        compact(iban),
        amount,
        "",  # purpose code: none
        reference[:35] if structured else "",
        "" if structured else reference[:140],
    ]
    payload = "\n".join(lines).rstrip("\n")
    return payload.encode("utf-8")[:EPC_MAX_BYTES].decode("utf-8", "ignore")


@functools.lru_cache(maxsize=256)
def qr_data_uri(payload: str) -> str:
    """The payload as a QR code (error correction M, as EPC069-12 asks): an SVG data: URI,
    which the page's CSP (img-src data:) and the PDF renderer both accept."""
    import qrcode
    import qrcode.image.svg

    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        border=4,
        image_factory=qrcode.image.svg.SvgPathImage,
    )
    code.add_data(payload)
    code.make(fit=True)
    svg = code.make_image().to_string(encoding="unicode")
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode("ascii")


def transfer_reference(invoice: Invoice) -> str:
    return payment_reference(
        reference_format=invoice.company.payment_reference_format, number=invoice.number
    )


def bank_transfer(*, invoice: Invoice, locale: str) -> BankTransfer | None:
    """The transfer block of ``invoice`` (loaded with its company), or None when the company
    has no bank details or nothing is due. No query.

    The bank details are the company's current ones, also on issued invoices: money must go
    to the account the company uses now, and paying changes the amount due anyway.
    """
    company = invoice.company
    due = invoice.amount_due
    if not company.has_bank_details or due <= 0 or invoice.status != InvoiceStatus.OPEN:
        return None
    reference = transfer_reference(invoice)
    payload = ""
    qr_src = ""
    if invoice.currency.lower() == "eur":
        payload = epc_payload(
            holder=company.bank_account_holder,
            iban=company.iban,
            bic=company.bic,
            amount_cents=due,
            reference=reference,
            structured=company.payment_reference_format == "rf",
        )
        qr_src = qr_data_uri(payload)
    return BankTransfer(
        holder=company.bank_account_holder,
        iban=iban_display(company.iban),
        iban_compact=compact(company.iban),
        bic=compact(company.bic),
        amount=format_money(due, invoice.currency, locale),
        reference=reference,
        qr_src=qr_src,
        epc_payload=payload,
    )
