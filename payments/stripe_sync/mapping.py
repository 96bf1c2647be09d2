"""Stripe's JSON into our fields: pure functions, no database, no network.

Shapes are those of the pinned API version (payments.stripe_client.API_VERSION): an invoice
names its subscription in ``parent.subscription_details.subscription``, a line's unit price is
``pricing.unit_amount_decimal``, payments are ``invoice_payment`` objects.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from invoices.models import Company, InvoiceStatus
from invoices.timezones import company_date

Json = Mapping[str, Any]

# Stripe's statuses of a finalized invoice; drafts (and upcoming previews, which have no id)
# are never imported.
INVOICE_STATUSES: dict[str, str] = {
    "open": InvoiceStatus.OPEN,
    "paid": InvoiceStatus.PAID,
    "void": InvoiceStatus.VOID,
    "uncollectible": InvoiceStatus.UNCOLLECTIBLE,
}


def object_id(value: Any) -> str:
    """An id field that may arrive expanded (a dict) or as the id itself."""
    if isinstance(value, dict):
        return str(value.get("id") or "")
    return str(value or "")


def moment(timestamp: Any) -> dt.datetime | None:
    if timestamp in (None, ""):
        return None
    return dt.datetime.fromtimestamp(int(timestamp), tz=dt.UTC)


def day(company: Company, timestamp: Any) -> dt.date | None:
    when = moment(timestamp)
    return company_date(company, when) if when is not None else None


def address_lines(address: Json | None) -> list[str]:
    if not address:
        return []
    city = " ".join(str(address.get(k) or "") for k in ("postal_code", "city")).strip()
    parts = [address.get("line1"), address.get("line2"), city, address.get("state")]
    parts.append(address.get("country"))
    return [str(part) for part in parts if part]


def customer_fields(data: Json) -> dict[str, str]:
    """Our customer's fields from a Stripe customer (only those Stripe fills in)."""
    address = data.get("address") or {}
    fields = {
        "name": str(data.get("name") or data.get("email") or data.get("id") or "")[:200],
        "email": str(data.get("email") or "")[:254],
        "address_line1": str(address.get("line1") or "")[:200],
        "address_line2": str(address.get("line2") or "")[:200],
        "postal_code": str(address.get("postal_code") or "")[:20],
        "city": str(address.get("city") or "")[:100],
        "region": str(address.get("state") or "")[:100],
        "country": str(address.get("country") or "")[:2].upper(),
    }
    return fields


def subscription_of(data: Json) -> str:
    parent = data.get("parent") or {}
    details = parent.get("subscription_details") or {}
    return object_id(details.get("subscription"))


def buyer_snapshot(data: Json) -> dict[str, Any]:
    """The buyer as Stripe froze it on the invoice at finalization."""
    tax_ids = [
        {"type": str(item.get("type") or ""), "value": str(item.get("value") or "")}
        for item in data.get("customer_tax_ids") or []
        if item.get("value")
    ]
    return {
        "name": str(data.get("customer_name") or data.get("customer_email") or ""),
        "email": str(data.get("customer_email") or ""),
        "address_lines": address_lines(data.get("customer_address")),
        "tax_id": ", ".join(item["value"] for item in tax_ids),
        "tax_ids": tax_ids,
        "buyer_reference": "",
    }


@dataclass(frozen=True)
class InvoiceState:
    """What changes on an invoice after it is issued: status and money, minor units."""

    status: str
    subtotal: int
    tax_total: int
    total: int
    amount_paid: int
    # Credit notes and customer balance Stripe applied before payment: our amount due
    # (total - paid - credited) is then exactly Stripe's amount_remaining.
    amount_credited: int
    paid_at: dt.datetime | None
    hosted_url: str


def invoice_state(data: Json) -> InvoiceState:
    total = int(data.get("total") or 0)
    subtotal = int(data.get("subtotal") or 0)
    taxes = sum(int(tax.get("amount") or 0) for tax in data.get("total_taxes") or [])
    amount_paid = int(data.get("amount_paid") or 0)
    remaining = int(data.get("amount_remaining") or 0)
    transitions = data.get("status_transitions") or {}
    return InvoiceState(
        status=INVOICE_STATUSES[str(data["status"])],
        subtotal=subtotal,
        tax_total=taxes,
        total=total,
        amount_paid=amount_paid,
        amount_credited=max(total - amount_paid - remaining, 0),
        paid_at=moment(transitions.get("paid_at")),
        hosted_url=str(data.get("hosted_invoice_url") or "")[:2000],
    )


@dataclass(frozen=True)
class LineFields:
    description: str
    quantity: Decimal
    unit_amount: int
    amount: int
    tax_amount: int


def line_fields(line: Json) -> LineFields:
    """One of our lines from a Stripe invoice line: its amount exactly, and quantity times unit
    price when they multiply to it (else one of the whole amount)."""
    amount = int(line.get("amount") or 0)
    quantity = int(line.get("quantity") or 1)
    pricing = line.get("pricing") or {}
    try:
        unit = Decimal(str(pricing.get("unit_amount_decimal")))
    except (InvalidOperation, ValueError):
        unit = Decimal(-1)
    if quantity < 1 or unit != unit.to_integral_value() or int(unit) * quantity != amount:
        quantity, unit = 1, Decimal(amount)
    return LineFields(
        description=str(line.get("description") or "—")[:500],
        quantity=Decimal(quantity),
        unit_amount=int(unit),
        amount=amount,
        tax_amount=sum(int(tax.get("amount") or 0) for tax in line.get("taxes") or []),
    )


@dataclass(frozen=True)
class PaymentFields:
    intent_id: str
    amount: int
    currency: str
    paid_at: dt.datetime | None


def paid_intents(data: Json) -> list[PaymentFields]:
    """The invoice's payments made through PaymentIntents (from its expanded ``payments``)."""
    found = []
    for payment in (data.get("payments") or {}).get("data") or []:
        details = payment.get("payment") or {}
        intent = object_id(details.get("payment_intent"))
        if payment.get("status") != "paid" or not intent:
            continue
        transitions = payment.get("status_transitions") or {}
        found.append(
            PaymentFields(
                intent_id=intent,
                amount=int(payment.get("amount_paid") or 0),
                currency=str(payment.get("currency") or data.get("currency") or ""),
                paid_at=moment(transitions.get("paid_at")),
            )
        )
    return found
