"""What an e-invoice says, in EN 16931 terms, built from an issued invoice or credit note.

The parties come from the invoice's snapshots (what the issued document says), falling back to
the live company and customer only for keys an older snapshot lacks. Amounts are exact
decimals made from the integer minor units; the VAT breakdown sums the lines' own (rounded)
taxes per category and rate, so the e-invoice's totals are the invoice's totals.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from core.errors import ApplicationError
from invoices.bank_details import compact, payment_reference
from invoices.document import buyer_snapshot, seller_snapshot
from invoices.models import CreditNote, Invoice, InvoiceStatus, LineItem
from invoices.models.invoice import VAT_CATEGORIES_NEEDING_REASON, VatCategory
from invoices.money import exponent

FORMATS = ("facturx", "xrechnung", "ubl")

# Categories whose lines need the buyer's VAT id (EN 16931 BR-AE-02, BR-K-02).
_NEED_BUYER_VAT = frozenset({VatCategory.REVERSE_CHARGE, VatCategory.INTRA_EU})

# VATEX codes a reason maps to by category (EN 16931 code list), for receivers that read codes.
_VATEX: dict[str, str] = {
    VatCategory.REVERSE_CHARGE: "VATEX-EU-AE",
    VatCategory.INTRA_EU: "VATEX-EU-IC",
    VatCategory.EXPORT: "VATEX-EU-G",
    VatCategory.OUTSIDE_SCOPE: "VATEX-EU-O",
}


class EInvoiceUnavailable(ApplicationError):
    """The data cannot make a valid e-invoice: 409 naming what is missing."""

    def __init__(self, missing: list[str], *, reason: str = "") -> None:
        message = reason or (
            "This invoice cannot be issued as an e-invoice until these are filled in: "
            + ", ".join(missing)
            + "."
        )
        super().__init__("einvoice_unavailable", message, missing[0] if missing else None, 409)
        self.missing = missing


class UnknownFormat(ApplicationError):
    def __init__(self, value: str) -> None:
        super().__init__(
            "invalid",
            f"Unknown e-invoice format {value!r}: use one of {', '.join(FORMATS)}.",
            "format",
            400,
        )


@dataclass(frozen=True)
class PartyData:
    name: str
    street: str
    line2: str
    postcode: str
    city: str
    country: str
    vat_id: str
    electronic_address: str
    electronic_scheme: str
    email: str
    phone: str = ""
    legal_registration: str = ""


@dataclass(frozen=True)
class LineData:
    line_id: str
    name: str
    quantity: Decimal
    unit_code: str
    unit_price: Decimal
    net: Decimal
    category: str
    rate: Decimal


@dataclass(frozen=True)
class TaxGroup:
    category: str
    rate: Decimal
    basis: Decimal
    tax: Decimal
    exemption_reason: str
    exemption_code: str


@dataclass(frozen=True)
class PaymentData:
    holder: str
    iban: str
    bic: str
    reference: str


@dataclass(frozen=True)
class EInvoiceData:
    type_code: str  # 380 commercial invoice, 381 credit note (UNTDID 1001)
    number: str
    issue_date: dt.date
    due_date: dt.date | None
    currency: str  # upper case
    buyer_reference: str
    seller: PartyData
    buyer: PartyData
    lines: list[LineData]
    taxes: list[TaxGroup]
    line_total: Decimal
    tax_total: Decimal
    grand_total: Decimal
    prepaid: Decimal
    due_payable: Decimal
    payment: PaymentData | None
    preceding_number: str = ""
    preceding_date: dt.date | None = None
    note: str = ""


def plain(value: Decimal | str | int) -> Decimal:
    """``value`` without trailing zeros and never in exponent notation: 10.000 -> 10,
    1.500 -> 1.5 (XML decimals do not take "1E+1")."""
    number = Decimal(value).normalize()
    return number.quantize(Decimal(1)) if number == number.to_integral_value() else number


def _decimal(minor: int, currency: str) -> Decimal:
    places = exponent(currency)
    return Decimal(minor).scaleb(-places).quantize(Decimal(1).scaleb(-places))


def _vat_id(snap: Mapping[str, Any]) -> str:
    # An older snapshot has only "tax_id" (a VAT id or another tax number).
    return compact(str(snap.get("vat_id") or snap.get("tax_id") or ""))


def seller_party(invoice: Invoice) -> PartyData:
    snap = {**seller_snapshot(invoice.company), **(invoice.seller_snapshot or {})}
    email = str(snap.get("email", ""))
    return PartyData(
        name=str(snap.get("name", "")),
        street=str(snap.get("street", "")),
        line2="",
        postcode=str(snap.get("postcode", "")),
        city=str(snap.get("city", "")),
        country=str(snap.get("country_code", "")),
        vat_id=_vat_id(snap),
        # Where e-invoices reach the seller: its own endpoint, else its email address.
        electronic_address=str(snap.get("electronic_address") or email),
        electronic_scheme=str(
            snap.get("electronic_address_scheme")
            or ("EM" if not snap.get("electronic_address") else "")
        ),
        email=email,
        phone=str(snap.get("phone", "")),
    )


def buyer_party(invoice: Invoice) -> PartyData:
    snap = {**buyer_snapshot(invoice.customer), **(invoice.buyer_snapshot or {})}
    email = str(snap.get("email", ""))
    return PartyData(
        name=str(snap.get("name", "")),
        street=str(snap.get("address_line1", "")),
        line2=str(snap.get("address_line2", "")),
        postcode=str(snap.get("postal_code", "")),
        city=str(snap.get("city", "")),
        country=str(snap.get("country", "")).upper(),
        vat_id=compact(str(snap.get("tax_id", ""))),
        electronic_address=str(snap.get("electronic_address") or email),
        electronic_scheme=str(
            snap.get("electronic_address_scheme")
            or ("EM" if not snap.get("electronic_address") else "")
        ),
        email=email,
    )


def _party_missing(party: PartyData, prefix: str, names: dict[str, str]) -> list[str]:
    values = {
        "name": party.name,
        "street": party.street,
        "postcode": party.postcode,
        "city": party.city,
        "country": party.country,
        "electronic_address_scheme": party.electronic_scheme,
    }
    return [f"{prefix}.{names.get(key, key)}" for key, value in values.items() if not value]


_SELLER_NAMES = {"country": "country_code"}
_BUYER_NAMES = {"street": "address_line1", "postcode": "postal_code"}


def _check(
    *,
    fmt: str,
    currency: str,
    seller: PartyData,
    buyer: PartyData,
    lines: list[LineItem],
    buyer_reference: str,
) -> None:
    if exponent(currency) > 2:
        raise EInvoiceUnavailable(
            ["currency"],
            reason=(
                f"{currency.upper()} amounts have three decimals, which EN 16931 e-invoices "
                "cannot express (at most two)."
            ),
        )
    missing = _party_missing(seller, "company", _SELLER_NAMES)
    if not seller.vat_id:
        missing.append("company.vat_id")
    missing += _party_missing(buyer, "customer", _BUYER_NAMES)
    categories = {line.effective_vat_category for line in lines}
    if categories & _NEED_BUYER_VAT and not buyer.vat_id:
        missing.append("customer.tax_id")
    for position, line in enumerate(lines):
        category = line.effective_vat_category
        if category in VAT_CATEGORIES_NEEDING_REASON and not line.vat_exemption_reason.strip():
            missing.append(f"lines.{position}.vat_exemption_reason")
    if fmt == "xrechnung":
        # XRechnung (BR-DE-15, BR-DE-2, BR-DE-6, BR-DE-7): the buyer reference (Leitweg-ID)
        # and the seller's contact telephone and email.
        if not buyer_reference:
            missing.append("customer.buyer_reference")
        if not seller.phone:
            missing.append("company.phone")
        if not seller.email:
            missing.append("company.email")
    if missing:
        raise EInvoiceUnavailable(sorted(set(missing), key=missing.index))


def _lines_and_taxes(lines: list[LineItem], currency: str) -> tuple[list[LineData], list[TaxGroup]]:
    rows: list[LineData] = []
    groups: dict[tuple[str, Decimal], dict[str, Any]] = {}
    for position, line in enumerate(lines):
        category = line.effective_vat_category
        rate = plain(line.tax_rate) if category == VatCategory.STANDARD else Decimal(0)
        rows.append(
            LineData(
                line_id=str(position + 1),
                name=line.description,
                quantity=plain(line.quantity),
                unit_code=line.unit_code or "C62",
                unit_price=_decimal(line.unit_amount, currency),
                net=_decimal(line.amount, currency),
                category=category,
                rate=rate,
            )
        )
        group = groups.setdefault(
            (category, rate), {"basis": 0, "tax": 0, "reason": line.vat_exemption_reason}
        )
        group["basis"] += line.amount
        group["tax"] += line.tax_amount
    taxes = [
        TaxGroup(
            category=category,
            rate=rate,
            basis=_decimal(group["basis"], currency),
            tax=_decimal(group["tax"], currency),
            exemption_reason=group["reason"] if category in VAT_CATEGORIES_NEEDING_REASON else "",
            exemption_code=_VATEX.get(category, "")
            if category in VAT_CATEGORIES_NEEDING_REASON
            else "",
        )
        for (category, rate), group in groups.items()
    ]
    return rows, taxes


def _payment(invoice: Invoice) -> PaymentData | None:
    company = invoice.company
    if not company.iban:
        return None
    return PaymentData(
        holder=company.bank_account_holder,
        iban=compact(company.iban),
        bic=compact(company.bic),
        reference=payment_reference(
            reference_format=company.payment_reference_format, number=invoice.number
        ),
    )


def invoice_einvoice_data(*, invoice: Invoice, fmt: str, lines: list[LineItem]) -> EInvoiceData:
    """The e-invoice of an issued ``invoice`` (loaded with company and customer); raises
    EInvoiceUnavailable naming what is missing."""
    if invoice.status == InvoiceStatus.DRAFT:
        raise EInvoiceUnavailable(
            ["status"], reason="A draft is not issued yet: finalize it before its e-invoice."
        )
    currency = invoice.currency
    seller, buyer = seller_party(invoice), buyer_party(invoice)
    buyer_reference = str(
        (invoice.buyer_snapshot or {}).get("buyer_reference") or invoice.customer.buyer_reference
    )
    _check(
        fmt=fmt,
        currency=currency,
        seller=seller,
        buyer=buyer,
        lines=lines,
        buyer_reference=buyer_reference,
    )
    rows, taxes = _lines_and_taxes(lines, currency)
    settled = min(invoice.amount_paid + invoice.amount_credited, invoice.total)
    return EInvoiceData(
        type_code="380",
        number=invoice.number,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        currency=currency.upper(),
        buyer_reference=buyer_reference,
        seller=seller,
        buyer=buyer,
        lines=rows,
        taxes=taxes,
        line_total=_decimal(invoice.subtotal, currency),
        tax_total=_decimal(invoice.tax_total, currency),
        grand_total=_decimal(invoice.total, currency),
        prepaid=_decimal(settled, currency),
        due_payable=_decimal(invoice.total - settled, currency),
        payment=_payment(invoice),
        note=invoice.notes,
    )


def credit_note_einvoice_data(*, note: CreditNote, fmt: str) -> EInvoiceData:
    """A credit note as an EN 16931 credit note (type 381) referencing the invoice it corrects.

    The note's amount is gross; it is split over the invoice's VAT categories in proportion to
    their gross amounts (the last takes the rounding), each share's VAT taken out at its rate.
    """
    invoice = note.invoice
    if invoice is None:
        raise EInvoiceUnavailable(
            ["invoice"],
            reason="A credit note becomes an e-invoice only when it names the invoice it corrects.",
        )
    lines = list(invoice.lines.all())
    currency = note.currency
    seller, buyer = seller_party(invoice), buyer_party(invoice)
    buyer_reference = str((invoice.buyer_snapshot or {}).get("buyer_reference") or "")
    _check(
        fmt=fmt,
        currency=currency,
        seller=seller,
        buyer=buyer,
        lines=lines,
        buyer_reference=buyer_reference,
    )
    _rows, invoice_taxes = _lines_and_taxes(lines, currency)
    gross_total = sum((t.basis + t.tax for t in invoice_taxes), Decimal(0))
    places = Decimal(1).scaleb(-exponent(currency))
    amount = _decimal(note.amount, currency)
    rows: list[LineData] = []
    taxes: list[TaxGroup] = []
    remaining = amount
    for index, group in enumerate(invoice_taxes):
        last = index == len(invoice_taxes) - 1
        share = (
            remaining
            if last
            else (amount * (group.basis + group.tax) / gross_total).quantize(places)
        )
        remaining -= share
        net = (share / (1 + group.rate / 100)).quantize(places)
        tax = share - net
        rows.append(
            LineData(
                line_id=str(index + 1),
                name=note.reason or f"Credit for invoice {invoice.number}",
                quantity=Decimal(1),
                unit_code="C62",
                unit_price=net,
                net=net,
                category=group.category,
                rate=group.rate,
            )
        )
        taxes.append(
            TaxGroup(
                category=group.category,
                rate=group.rate,
                basis=net,
                tax=tax,
                exemption_reason=group.exemption_reason,
                exemption_code=group.exemption_code,
            )
        )
    line_total = sum((row.net for row in rows), Decimal(0))
    tax_total = sum((t.tax for t in taxes), Decimal(0))
    issued = note.issued_at or note.created_at
    return EInvoiceData(
        type_code="381",
        number=note.number,
        issue_date=issued.date(),
        due_date=None,
        currency=currency.upper(),
        buyer_reference=buyer_reference,
        seller=seller,
        buyer=buyer,
        lines=rows,
        taxes=taxes,
        line_total=line_total,
        tax_total=tax_total,
        grand_total=line_total + tax_total,
        prepaid=Decimal(0).quantize(places),
        due_payable=line_total + tax_total,
        payment=_payment(invoice),
        preceding_number=invoice.number,
        preceding_date=invoice.issue_date,
        note=note.reason,
    )
