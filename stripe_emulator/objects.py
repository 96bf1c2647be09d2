"""Constructors for Stripe-shaped objects (plain dicts, exactly what goes on the wire).

Only the fields the SDK and our app can use are filled in; each object carries ``id``,
``object`` (the SDK picks its Python class from it), ``livemode: false``, ``created`` and
``metadata`` like Stripe's own.
"""

from __future__ import annotations

import secrets
import string
import time
from typing import Any

from .cards import Card

Obj = dict[str, Any]

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def now() -> int:
    return int(time.time())


def line_item(*, name: str, currency: str, unit_amount: int, quantity: int) -> Obj:
    total = unit_amount * quantity
    return {
        "id": new_id("li_"),
        "object": "item",
        "amount_discount": 0,
        "amount_subtotal": total,
        "amount_tax": 0,
        "amount_total": total,
        "currency": currency,
        "description": name,
        "price": {
            "id": new_id("price_"),
            "object": "price",
            "active": False,
            "currency": currency,
            "livemode": False,
            "metadata": {},
            "product": new_id("prod_"),
            "type": "one_time",
            "unit_amount": unit_amount,
        },
        "quantity": quantity,
    }


def checkout_session(
    *,
    base_url: str,
    line_items: list[Obj],
    currency: str,
    customer_email: str | None,
    client_reference_id: str | None,
    metadata: dict[str, str],
    success_url: str | None,
    cancel_url: str | None,
    payment_intent_data: Obj,
) -> Obj:
    session_id = new_id("cs_test_", 58)
    total = sum(int(item["amount_total"]) for item in line_items)
    created = now()
    return {
        "id": session_id,
        "object": "checkout.session",
        "amount_subtotal": total,
        "amount_total": total,
        "cancel_url": cancel_url,
        "client_reference_id": client_reference_id,
        "created": created,
        "currency": currency,
        "customer": None,
        "customer_details": None,
        "customer_email": customer_email,
        "expires_at": created + 24 * 3600,
        "livemode": False,
        "metadata": metadata,
        "mode": "payment",
        "payment_intent": None,
        "payment_method_types": ["card"],
        "payment_status": "unpaid",
        "status": "open",
        "success_url": success_url,
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted",
        "url": f"{base_url}/checkout/{session_id}",
        # Not part of Stripe's object: kept out of API answers by ``public()``.
        "_line_items": line_items,
        "_payment_intent_data": payment_intent_data,
    }


def payment_intent(
    *,
    amount: int,
    currency: str,
    metadata: dict[str, str],
    description: str | None,
    receipt_email: str | None,
    payment_method_types: list[str],
    automatic_payment_methods: bool,
) -> Obj:
    intent_id = new_id("pi_")
    return {
        "id": intent_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_received": 0,
        "automatic_payment_methods": (
            {"allow_redirects": "always", "enabled": True} if automatic_payment_methods else None
        ),
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic_async",
        "client_secret": f"{intent_id}_secret_{new_id('', 25)}",
        "confirmation_method": "automatic",
        "created": now(),
        "currency": currency,
        "customer": None,
        "description": description,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "metadata": metadata,
        "next_action": None,
        "payment_method": None,
        "payment_method_types": payment_method_types,
        "receipt_email": receipt_email,
        "status": "requires_payment_method",
    }


def payment_method(card: Card) -> Obj:
    return {
        "id": new_id("pm_"),
        "object": "payment_method",
        "billing_details": {"address": None, "email": None, "name": None, "phone": None},
        "card": _card_details(card),
        "created": now(),
        "customer": None,
        "livemode": False,
        "metadata": {},
        "type": "card",
    }


def _card_details(card: Card) -> Obj:
    return {
        "brand": card.brand,
        "country": "US",
        "exp_month": 12,
        "exp_year": time.gmtime().tm_year + 3,
        "funding": "credit",
        "last4": card.number[-4:],
    }


def charge(
    *,
    intent: Obj,
    method: Obj,
    card: Card,
    status: str,
) -> Obj:
    succeeded = status == "succeeded"
    failed = status == "failed"
    return {
        "id": new_id("ch_"),
        "object": "charge",
        "amount": intent["amount"],
        "amount_captured": intent["amount"] if succeeded else 0,
        "amount_refunded": 0,
        "balance_transaction": new_id("txn_") if succeeded else None,
        "billing_details": method["billing_details"],
        "captured": succeeded,
        "created": now(),
        "currency": intent["currency"],
        "customer": None,
        "description": intent["description"],
        "failure_code": card.error_code if failed else None,
        "failure_message": card.message if failed else None,
        "livemode": False,
        "metadata": dict(intent["metadata"]),
        "outcome": {
            "network_status": "declined_by_network" if failed else "approved_by_network",
            "reason": card.decline_code if failed else None,
            "risk_level": "normal",
            "seller_message": "The bank did not return any further details with this decline."
            if failed
            else "Payment complete.",
            "type": "issuer_declined" if failed else "authorized",
        },
        "paid": succeeded,
        "payment_intent": intent["id"],
        "payment_method": method["id"],
        "payment_method_details": {"card": _card_details(card), "type": "card"},
        "receipt_email": intent["receipt_email"],
        "refunded": False,
        "status": status,
    }


def refund(
    *,
    charge_obj: Obj,
    amount: int,
    reason: str | None,
    metadata: dict[str, str],
) -> Obj:
    return {
        "id": new_id("re_"),
        "object": "refund",
        "amount": amount,
        "balance_transaction": new_id("txn_"),
        "charge": charge_obj["id"],
        "created": now(),
        "currency": charge_obj["currency"],
        "metadata": metadata,
        "payment_intent": charge_obj["payment_intent"],
        "reason": reason,
        "status": "succeeded",
    }


def event(
    *,
    type: str,
    obj: Obj,
    api_version: str,
    request_id: str | None,
    idempotency_key: str | None,
    previous_attributes: Obj | None,
    pending_webhooks: int,
) -> Obj:
    data: Obj = {"object": obj}
    if previous_attributes:
        data["previous_attributes"] = previous_attributes
    return {
        "id": new_id("evt_"),
        "object": "event",
        "api_version": api_version,
        "created": now(),
        "data": data,
        "livemode": False,
        "pending_webhooks": pending_webhooks,
        "request": {"id": request_id, "idempotency_key": idempotency_key},
        "type": type,
    }


def list_object(data: list[Obj], *, url: str, has_more: bool) -> Obj:
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


def public(obj: Obj) -> Obj:
    """A deep copy without the emulator's private ``_`` fields: safe to hand out and mutate."""
    return {key: clean(value) for key, value in obj.items() if not key.startswith("_")}


def clean(value: Any) -> Any:
    """``public()`` for any JSON value."""
    if isinstance(value, dict):
        return public(value)
    if isinstance(value, list):
        return [clean(item) for item in value]
    return value
