"""Stripe Billing objects: customers, invoice items, invoices (with their lines and payments),
credit notes, products, prices and subscriptions, as the pinned API version shapes them.

Enough for a portal that sits on top of an account billed in Stripe: create customers and
invoices with the real SDK, finalize, pay (a card, ``paid_out_of_band`` or a PaymentIntent
attached with ``attach_payment``), void, mark uncollectible, list them with cursor pagination
(and an invoice's lines past the ten embedded ones), credit notes, and subscriptions that
create their invoices. Every change raises Stripe's events (``customer.*``, ``invoice.*``,
``invoiceitem.*``, ``credit_note.*``, ``customer.subscription.*``), signed and delivered like
the others.

Shapes follow API version 2026-10-28: an invoice names its subscription in
``parent.subscription_details.subscription`` (there is no ``invoice.subscription``), a line's
price is in ``pricing.price_details``, and payments are ``invoice_payment`` objects
(``GET /v1/invoice_payments?invoice=``, or ``expand[]=payments`` on the invoice).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from . import actions, cards
from .api import _email, route
from .core import Context
from .errors import StripeError, invalid_param, missing_param
from .objects import Obj, list_object, new_id, now, public
from .params import (
    Params,
    get_bool,
    get_currency,
    get_dict,
    get_int,
    get_list,
    get_metadata,
    get_str,
)
from .query import paginate

DAY = 86_400
# An invoice embeds this many of its lines; the rest come from /v1/invoices/<id>/lines.
EMBEDDED_LINES = 10
_FINAL = ("paid", "void", "uncollectible")


def account_id(ctx: Context) -> str:
    """The account's acct_ id: stable for its key, like Stripe's."""
    return "acct_" + hashlib.sha256(ctx.account.suffix.encode()).hexdigest()[:16]


def _number_prefix(ctx: Context) -> str:
    return hashlib.sha256(("prefix" + ctx.account.suffix).encode()).hexdigest()[:8].upper()


# -- Account --------------------------------------------------------------------------------


@route("GET", "/v1/account")
def _account_retrieve(ctx: Context, params: Params, match: re.Match[str]) -> Obj:
    return {
        "id": account_id(ctx),
        "object": "account",
        "country": "US",
        "default_currency": "usd",
        "settings": {"dashboard": {"display_name": ctx.account.suffix}},
    }


# -- Customers ------------------------------------------------------------------------------

_CUSTOMER_PARAMS = """
address balance description email invoice_prefix invoice_settings metadata name phone
preferred_locales shipping tax tax_exempt tax_id_data test_clock
"""
_ADDRESS_FIELDS = ("line1", "line2", "postal_code", "city", "state", "country")


def _address(params: Params, name: str = "address") -> Obj | None:
    raw = get_dict(params, name)
    if not raw:
        return None
    return {field: raw.get(field) or None for field in _ADDRESS_FIELDS}


@route("POST", "/v1/customers", _CUSTOMER_PARAMS)
def _customer_create(ctx: Context, params: Params, match: re.Match[str]) -> Obj:
    tax_ids = []
    for index, raw in enumerate(get_list(params, "tax_id_data")):
        if not isinstance(raw, dict) or not raw.get("type") or not raw.get("value"):
            raise invalid_param(f"tax_id_data[{index}]", "A tax id needs a type and a value.")
        tax_ids.append({"type": str(raw["type"]), "value": str(raw["value"])})
    customer = ctx.add(
        {
            "id": new_id("cus_", 14),
            "object": "customer",
            "address": _address(params),
            "balance": 0,
            "created": now(),
            "currency": None,
            "description": get_str(params, "description"),
            "email": _email(params, "email"),
            "invoice_prefix": _number_prefix(ctx),
            "livemode": False,
            "metadata": get_metadata(params),
            "name": get_str(params, "name"),
            "phone": get_str(params, "phone"),
            "preferred_locales": [str(x) for x in get_list(params, "preferred_locales")],
            "tax_exempt": "none",
            "_tax_ids": tax_ids,
        }
    )
    ctx.emit("customer.created", customer)
    return customer


@route("GET", "/v1/customers", "created email limit starting_after ending_before test_clock")
def _customer_list(ctx: Context, params: Params, match: re.Match[str]) -> Obj:
    # Stripe's email filter is case-sensitive.
    email = get_str(params, "email")
    found = (
        obj
        for obj in ctx.account.of_kind("customer")
        if not obj.get("deleted")
        and (email is None or obj["email"] == email)
        and _created_matches(obj, params)
    )
    return paginate(found, params, url="/v1/customers")


@route("GET", "/v1/customers/<id>")
def _customer_retrieve(ctx: Context, params: Params, match: re.Match[str]) -> Obj:
    customer = ctx.account.get(match["id"], "customer")
    if customer.get("deleted"):
        return {"id": customer["id"], "object": "customer", "deleted": True}
    return customer


@route("POST", "/v1/customers/<id>", _CUSTOMER_PARAMS)
def _customer_update(ctx: Context, params: Params, match: re.Match[str]) -> Obj:
    customer = ctx.account.get(match["id"], "customer")
    previous: Obj = {}
    for name in ("name", "description", "phone"):
        if name in params:
            previous[name] = customer[name]
            customer[name] = get_str(params, name)
    if "email" in params:
        previous["email"] = customer["email"]
        customer["email"] = _email(params, "email")
    if "address" in params:
        previous["address"] = customer["address"]
        customer["address"] = _address(params)
    if "metadata" in params:
        previous["metadata"] = dict(customer["metadata"])
        customer["metadata"].update(get_metadata(params))
    ctx.emit("customer.updated", customer, previous)
    return customer


@route("DELETE", "/v1/customers/<id>")
def _customer_delete(ctx: Context, params: Params, match: re.Match[str]) -> Obj:
    customer = ctx.account.get(match["id"], "customer")
    customer["deleted"] = True
    ctx.emit("customer.deleted", customer)
    return {"id": customer["id"], "object": "customer", "deleted": True}


def _created_matches(obj: Obj, params: Params) -> bool:
    created = params.get("created")
    if created is None or created == "":
        return True
    if isinstance(created, str):
        return int(obj["created"]) == int(created)
    if not isinstance(created, dict):
        raise invalid_param("created", "Invalid created filter.")
    bounds = {
        "gt": lambda a, b: a > b,
        "gte": lambda a, b: a >= b,
        "lt": lambda a, b: a < b,
        "lte": lambda a, b: a <= b,
    }
    for name, value in created.items():
        if name not in bounds or not str(value).lstrip("-").isdigit():
            raise invalid_param(f"created[{name}]", "Invalid created filter.")
        if not bounds[name](int(obj["created"]), int(value)):
            return False
    return True


# -- Products and prices --------------------------------------------------------------------


@route("POST", "/v1/products", "name description metadata active")
def _product_create(ctx: Context, params: Params, match: re.Match[str]) -> Obj:
    name = get_str(params, "name", required=True)
    return ctx.add(
        {
            "id": new_id("prod_", 14),
            "object": "product",
            "active": True,
            "created": now(),
            "description": get_str(params, "description"),
            "livemode": False,
            "metadata": get_metadata(params),
            "name": name,
        }
    )


@route(
    "POST", "/v1/prices", "currency product product_data unit_amount recurring metadata nickname"
)
def _price_create(ctx: Context, params: Params, match: re.Match[str]) -> Obj:
    currency = get_currency(params, "currency")
    product = get_str(params, "product")
    if product is None:
        product_data = get_dict(params, "product_data")
        if not product_data.get("name"):
            raise missing_param("product")
        product = _product_create(ctx, {"name": product_data["name"]}, match)["id"]
    else:
        ctx.account.get(product, "product", "product")
    recurring = get_dict(params, "recurring")
    interval = recurring.get("interval") if recurring else None
    if recurring and interval not in ("day", "week", "month", "year"):
        raise invalid_param("recurring[interval]", "Invalid interval.")
    return ctx.add(
        {
            "id": new_id("price_", 14),
            "object": "price",
            "active": True,
            "created": now(),
            "currency": currency,
            "livemode": False,
            "metadata": get_metadata(params),
            "nickname": get_str(params, "nickname"),
            "product": product,
            "recurring": {"interval": interval, "interval_count": 1} if recurring else None,
            "type": "recurring" if recurring else "one_time",
            "unit_amount": get_int(params, "unit_amount", required=True, minimum=0),
        }
    )


# -- Invoice items and lines ----------------------------------------------------------------

_ITEM_PARAMS = """
amount currency customer description discountable discounts invoice metadata period price
pricing quantity subscription tax_behavior tax_code tax_rates unit_amount_decimal
"""


def _line(
    *,
    invoice_id: str,
    amount: int,
    currency: str,
    description: str | None,
    quantity: int,
    unit_amount: int,
    metadata: dict[str, str],
    item_id: str | None,
    subscription: str | None = None,
    subscription_item: str | None = None,
    price: Obj | None = None,
) -> Obj:
    start = now()
    if subscription_item is not None:
        parent: Obj = {
            "type": "subscription_item_details",
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": None,
                "proration": False,
                "proration_details": {"credited_items": None},
                "subscription": subscription,
                "subscription_item": subscription_item,
            },
        }
    else:
        parent = {
            "type": "invoice_item_details",
            "invoice_item_details": {
                "invoice_item": item_id,
                "proration": False,
                "proration_details": {"credited_items": None},
                "subscription": subscription,
            },
            "subscription_item_details": None,
        }
    return {
        "id": new_id("il_", 24),
        "object": "line_item",
        "amount": amount,
        "currency": currency,
        "description": description,
        "discount_amounts": [],
        "discountable": True,
        "discounts": [],
        "invoice": invoice_id,
        "livemode": False,
        "metadata": metadata,
        "parent": parent,
        "period": {"start": start, "end": start},
        "pretax_credit_amounts": [],
        "pricing": {
            "type": "price_details",
            "price_details": {
                "price": price["id"] if price else new_id("price_", 14),
                "product": price["product"] if price else new_id("prod_", 14),
            },
            "unit_amount_decimal": str(unit_amount),
        },
        "quantity": quantity,
        "subtotal": amount,
        "taxes": [],
    }


@route("POST", "/v1/invoiceitems", _ITEM_PARAMS)
def _item_create(ctx: Context, params: Params, match: re.Match[str]) -> Obj:
    customer = ctx.account.get(
        get_str(params, "customer", required=True) or "", "customer", "customer"
    )
    quantity = get_int(params, "quantity", minimum=1) or 1
    price = None
    if get_str(params, "price") is not None:
        price = ctx.account.get(get_str(params, "price") or "", "price", "price")
        currency = price["currency"]
        unit_amount = int(price["unit_amount"])
        amount = unit_amount * quantity
    else:
        currency = get_currency(params, "currency") or "usd"
        raw_unit = get_str(params, "unit_amount_decimal")
        if raw_unit is not None:
            if not re.fullmatch(r"-?\d+", raw_unit):
                raise invalid_param("unit_amount_decimal", "The emulator takes whole minor units.")
            unit_amount = int(raw_unit)
            amount = unit_amount * quantity
        else:
            amount_given = get_int(params, "amount")
            if amount_given is None:
                raise missing_param("amount")
            amount = amount_given
            unit_amount = amount // quantity if amount % quantity == 0 else amount
            if amount % quantity:
                quantity = 1
    invoice_id = get_str(params, "invoice")
    invoice = None
    if invoice_id is not None:
        invoice = ctx.account.get(invoice_id, "invoice", "invoice")
        if invoice["status"] != "draft":
            raise StripeError(
                f"You can only add invoice items to draft invoices; {invoice_id} is "
                f"{invoice['status']}.",
                param="invoice",
            )
        if invoice["customer"] != customer["id"]:
            raise invalid_param("invoice", "The invoice belongs to another customer.")
        if invoice["currency"] != currency:
            raise invalid_param("currency", "The invoice item's currency is not the invoice's.")
    item = ctx.add(
        {
            "id": new_id("ii_", 24),
            "object": "invoiceitem",
            "amount": amount,
            "currency": currency,
            "customer": customer["id"],
            "date": now(),
            "description": get_str(params, "description"),
            "discountable": True,
            "invoice": invoice["id"] if invoice else None,
            "livemode": False,
            "metadata": get_metadata(params),
            "quantity": quantity,
            "_unit_amount": unit_amount,
            "_price": price,
        }
    )
    if invoice is not None:
        _attach_item(ctx, invoice, item)
    ctx.emit("invoiceitem.created", item)
    return item


def _attach_item(ctx: Context, invoice: Obj, item: Obj) -> None:
    item["invoice"] = invoice["id"]
    invoice["_lines"].append(
        _line(
            invoice_id=invoice["id"],
            amount=item["amount"],
            currency=item["currency"],
            description=item["description"],
            quantity=item["quantity"],
            unit_amount=item["_unit_amount"],
            metadata=dict(item["metadata"]),
            item_id=item["id"],
            price=item.get("_price"),
        )
    )
    _recompute(invoice)


def _recompute(invoice: Obj) -> None:
    """Totals, amounts and the embedded first page of lines, from the lines and payments."""
    lines = invoice["_lines"]
    subtotal = sum(int(line["amount"]) for line in lines)
    due = max(subtotal - invoice["pre_payment_credit_notes_amount"], 0)
    invoice.update(
        subtotal=subtotal,
        subtotal_excluding_tax=subtotal,
        total=subtotal,
        total_excluding_tax=subtotal,
        amount_due=due,
        amount_remaining=max(due - invoice["amount_paid"], 0),
        lines=list_object(
            [public(line) for line in lines[:EMBEDDED_LINES]],
            url=f"/v1/invoices/{invoice['id']}/lines",
            has_more=len(lines) > EMBEDDED_LINES,
        ),
    )
    invoice["lines"]["total_count"] = len(lines)


# -- Invoices -------------------------------------------------------------------------------

_INVOICE_CREATE_PARAMS = """
account_tax_ids application_fee_amount auto_advance automatic_tax automatically_finalizes_at
collection_method currency custom_fields customer default_payment_method default_source
default_tax_rates description discounts due_date effective_at footer from_invoice issuer
metadata number on_behalf_of payment_settings pending_invoice_items_behavior rendering
shipping_cost shipping_details statement_descriptor subscription transfer_data days_until_due
"""


def _snapshot_customer(invoice: Obj, customer: Obj) -> None:
    """What Stripe copies from the customer onto the invoice at finalization."""
    invoice.update(
        customer_address=customer["address"],
        customer_email=customer["email"],
        customer_name=customer["name"],
        customer_phone=customer["phone"],
        customer_tax_ids=[dict(tax_id) for tax_id in customer.get("_tax_ids", [])],
    )


def invoice_new(
    ctx: Context,
    *,
    customer: Obj,
    currency: str,
    collection_method: str,
    days_until_due: int | None,
    due_date: int | None,
    description: str | None,
    metadata: dict[str, str],
    auto_advance: bool,
    billing_reason: str,
    subscription: str | None = None,
) -> Obj:
    created = now()
    if collection_method == "send_invoice" and due_date is None:
        due_date = created + DAY * (days_until_due if days_until_due is not None else 30)
    invoice_id = new_id("in_", 24)
    invoice: Obj = {
        "id": invoice_id,
        "object": "invoice",
        "account_country": "US",
        "account_name": ctx.account.suffix,
        "amount_due": 0,
        "amount_overpaid": 0,
        "amount_paid": 0,
        "amount_remaining": 0,
        "amount_shipping": 0,
        "attempt_count": 0,
        "attempted": False,
        "auto_advance": auto_advance,
        "billing_reason": billing_reason,
        "collection_method": collection_method,
        "created": created,
        "currency": currency,
        "customer": customer["id"],
        "customer_address": customer["address"],
        "customer_email": customer["email"],
        "customer_name": customer["name"],
        "customer_phone": customer["phone"],
        "customer_shipping": None,
        "customer_tax_exempt": "none",
        "customer_tax_ids": [],
        "default_payment_method": None,
        "description": description,
        "discounts": [],
        "due_date": due_date if collection_method == "send_invoice" else None,
        "effective_at": None,
        "ending_balance": None,
        "footer": None,
        "hosted_invoice_url": None,
        "invoice_pdf": None,
        "issuer": {"type": "self"},
        "livemode": False,
        "metadata": metadata,
        "next_payment_attempt": None,
        "number": None,
        "on_behalf_of": None,
        "parent": (
            {
                "type": "subscription_details",
                "quote_details": None,
                "subscription_details": {"metadata": {}, "subscription": subscription},
            }
            if subscription
            else None
        ),
        "period_end": created,
        "period_start": created,
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "receipt_number": None,
        "starting_balance": 0,
        "statement_descriptor": None,
        "status": "draft",
        "status_transitions": {
            "finalized_at": None,
            "marked_uncollectible_at": None,
            "paid_at": None,
            "voided_at": None,
        },
        "total_discount_amounts": [],
        "total_taxes": [],
        "webhooks_delivered_at": None,
        "_lines": [],
        "_payments": [],
    }
    _recompute(invoice)
    ctx.add(invoice)
    return invoice


@route("POST", "/v1/invoices", _INVOICE_CREATE_PARAMS)
def _invoice_create(ctx: Context, params: Params, match: re.Match[str]) -> Obj:
    customer = ctx.account.get(
        get_str(params, "customer", required=True) or "", "customer", "customer"
    )
    method = get_str(params, "collection_method") or "charge_automatically"
    if method not in ("charge_automatically", "send_invoice"):
        raise invalid_param("collection_method", "Invalid collection_method.")
    days = get_int(params, "days_until_due", minimum=0)
    due = get_int(params, "due_date")
    if method == "charge_automatically" and (days is not None or due is not None):
        raise invalid_param(
            "days_until_due",
            "Invoices with collection_method=charge_automatically cannot have a due date.",
        )
    behavior = get_str(params, "pending_invoice_items_behavior") or "exclude"
    if behavior not in ("exclude", "include"):
        raise invalid_param("pending_invoice_items_behavior", "Must be include or exclude.")
    pending = [
        item
        for item in ctx.account.of_kind("invoiceitem")
        if item["customer"] == customer["id"] and item["invoice"] is None
    ]
    currency = get_currency(params, "currency", required=False) or (
        pending[0]["currency"] if pending and behavior == "include" else "usd"
    )
    invoice = invoice_new(
        ctx,
        customer=customer,
        currency=currency,
        collection_method=method,
        days_until_due=days,
        due_date=due,
        description=get_str(params, "description"),
        metadata=get_metadata(params),
        auto_advance=bool(get_bool(params, "auto_advance")),
        billing_reason="manual",
    )
    if behavior == "include":
        for item in reversed(pending):
            if item["currency"] == currency:
                _attach_item(ctx, invoice, item)
    ctx.emit("invoice.created", invoice)
    return invoice


def _invoice_list_filter(obj: Obj, params: Params) -> bool:
    customer, status = get_str(params, "customer"), get_str(params, "status")
    subscription = get_str(params, "subscription")
    method = get_str(params, "collection_method")
    parent = obj.get("parent") or {}
    sub = (parent.get("subscription_details") or {}).get("subscription")
    return (
        (customer is None or obj["customer"] == customer)
        and (status is None or obj["status"] == status)
        and (subscription is None or sub == subscription)
        and (method is None or obj["collection_method"] == method)
        and _created_matches(obj, params)
    )


@route(
    "GET",
    "/v1/invoices",
    "collection_method created customer customer_account due_date ending_before limit "
    "starting_after status subscription",
)
def _invoice_list(ctx: Context, params: Params, match: re.Match[str]) -> Obj:
    status = get_str(params, "status")
    if status is not None and status not in ("draft", "open", "paid", "uncollectible", "void"):
        raise invalid_param("status", "Invalid status.")
    found = (o for o in ctx.account.of_kind("invoice") if _invoice_list_filter(o, params))
    return paginate(found, params, url="/v1/invoices")


@route("GET", "/v1/invoices/<id>")
def _invoice_retrieve(ctx: Context, params: Params, match: re.Match[str]) -> Obj:
    return ctx.account.get(match["id"], "invoice")


@route(
    "POST", "/v1/invoices/<id>", "description metadata days_until_due due_date footer auto_advance"
)
def _invoice_update(ctx: Context, params: Params, match: re.Match[str]) -> Obj:
    invoice = ctx.account.get(match["id"], "invoice")
    previous: Obj = {}
    if "metadata" in params:
        previous["metadata"] = dict(invoice["metadata"])
        invoice["metadata"].update(get_metadata(params))
    if any(name in params for name in ("description", "days_until_due", "due_date", "footer")):
        if invoice["status"] != "draft":
            raise StripeError(
                "Finalized invoices can't be updated in this way.", param="description"
            )
        for name in ("description", "footer"):
            if name in params:
                previous[name] = invoice[name]
                invoice[name] = get_str(params, name)
        if "days_until_due" in params:
            invoice["due_date"] = invoice["created"] + DAY * (
                get_int(params, "days_until_due") or 0
            )
        if "due_date" in params:
            invoice["due_date"] = get_int(params, "due_date")
    ctx.emit("invoice.updated", invoice, previous)
    return invoice


@route("DELETE", "/v1/invoices/<id>")
def _invoice_delete(ctx: Context, params: Params, match: re.Match[str]) -> Obj:
    invoice = ctx.account.get(match["id"], "invoice")
    if invoice["status"] != "draft":
        raise StripeError("You can only delete draft invoices.", param="id")
    ctx.emit("invoice.deleted", invoice)
    del ctx.account.objects[invoice["id"]]
    return {"id": invoice["id"], "object": "invoice", "deleted": True}


@route("GET", "/v1/invoices/<id>/lines", "limit starting_after ending_before")
def _invoice_lines(ctx: Context, params: Params, match: re.Match[str]) -> Obj:
    invoice = ctx.account.get(match["id"], "invoice")
    # Lines keep their order, unlike the newest-first object lists.
    page = paginate(invoice["_lines"], params, url=f"/v1/invoices/{invoice['id']}/lines")
    return page


def invoice_finalize(ctx: Context, invoice: Obj) -> Obj:
    if invoice["status"] != "draft":
        raise StripeError(
            "This invoice is already finalized, you can't re-finalize a non-draft invoice."
        )
    customer = ctx.account.get(invoice["customer"], "customer")
    ctx.account.counters["invoice"] = ctx.account.counters.get("invoice", 0) + 1
    invoice.update(
        number=f"{customer['invoice_prefix']}-{ctx.account.counters['invoice']:04d}",
        status="open",
        effective_at=now(),
        hosted_invoice_url=f"{ctx.base_url}/invoice_pages/{invoice['id']}",
        invoice_pdf=f"{ctx.base_url}/invoice_pages/{invoice['id']}/pdf",
    )
    invoice["status_transitions"]["finalized_at"] = now()
    _snapshot_customer(invoice, customer)
    _recompute(invoice)
    ctx.emit("invoice.finalized", invoice)
    if invoice["amount_remaining"] == 0:
        _mark_paid(ctx, invoice)
    return invoice


@route("POST", "/v1/invoices/<id>/finalize", "auto_advance")
def _invoice_finalize(ctx: Context, params: Params, match: re.Match[str]) -> Obj:
    return invoice_finalize(ctx, ctx.account.get(match["id"], "invoice"))


def _mark_paid(ctx: Context, invoice: Obj) -> None:
    invoice["status"] = "paid"
    invoice["status_transitions"]["paid_at"] = now()
    ctx.emit("invoice.paid", invoice)
    ctx.emit("invoice.payment_succeeded", invoice)


def _open_or_raise(invoice: Obj, verb: str) -> None:
    if invoice["status"] not in ("open", "uncollectible"):
        raise StripeError(
            f"You cannot {verb} an invoice with a status of {invoice['status']}.",
            code="invoice_unexpected_state"
            if invoice["status"] != "paid"
            else "invoice_already_paid",
        )


def _invoice_payment(invoice: Obj, intent: Obj | None, amount: int) -> Obj:
    return {
        "id": new_id("inpay_", 24),
        "object": "invoice_payment",
        "amount_paid": None,
        "amount_requested": amount,
        "created": now(),
        "currency": invoice["currency"],
        "invoice": invoice["id"],
        "is_default": False,
        "livemode": False,
        "payment": {
            "type": "payment_intent",
            "payment_intent": intent["id"] if intent else None,
        },
        "status": "open",
        "status_transitions": {"canceled_at": None, "paid_at": None},
    }


def _apply_payment(ctx: Context, invoice: Obj, payment: Obj, amount: int) -> None:
    """Credit a succeeded payment to the invoice; paid once nothing remains."""
    applied = min(amount, invoice["amount_remaining"])
    payment.update(status="paid", amount_paid=applied)
    payment["status_transitions"]["paid_at"] = now()
    invoice["amount_paid"] += applied
    invoice["amount_overpaid"] += amount - applied
    invoice["attempted"] = True
    invoice["attempt_count"] += 1
    _recompute(invoice)
    if invoice["amount_remaining"] == 0:
        _mark_paid(ctx, invoice)
    else:
        ctx.emit("invoice.updated", invoice, {"amount_paid": invoice["amount_paid"] - applied})


@route(
    "POST",
    "/v1/invoices/<id>/pay",
    "forgive mandate off_session paid_out_of_band payment_method source",
)
def _invoice_pay(ctx: Context, params: Params, match: re.Match[str]) -> Obj:
    invoice = ctx.account.get(match["id"], "invoice")
    _open_or_raise(invoice, "pay")
    if get_bool(params, "paid_out_of_band"):
        paid = invoice["amount_remaining"]
        invoice["amount_paid"] += paid
        invoice["amount_paid_off_stripe"] = paid
        invoice["paid_out_of_band"] = True
        _recompute(invoice)
        _mark_paid(ctx, invoice)
        return invoice
    method_name = get_str(params, "payment_method")
    if method_name is not None and method_name in cards.TOKENS:
        return invoice_pay_with_card(ctx, invoice, cards.TOKENS[method_name])
    if method_name is None:
        raise StripeError(
            "The invoice has no payment method to charge; pass payment_method or "
            "paid_out_of_band=true.",
            code="invoice_no_payment_method_types",
        )
    method = ctx.account.get(method_name, "payment_method", "payment_method")
    return _pay_with(ctx, invoice, method)


def invoice_pay_with_card(ctx: Context, invoice: Obj, card: cards.Card) -> Obj:
    """Charge the invoice's amount remaining to a card (the hosted invoice page's Pay)."""
    _open_or_raise(invoice, "pay")
    return _pay_with(ctx, invoice, actions.payment_method_create(ctx, card))


def _pay_with(ctx: Context, invoice: Obj, method: Obj) -> Obj:
    intent = actions.payment_intent_create(
        ctx,
        amount=invoice["amount_remaining"],
        currency=invoice["currency"],
        metadata={},
        description=f"Invoice {invoice['number']}",
        receipt_email=None,
        payment_method_types=["card"],
        automatic_payment_methods=False,
    )
    intent["customer"] = invoice["customer"]
    _attach(ctx, invoice, intent)
    actions.payment_intent_confirm(ctx, intent, method=method)
    return invoice


def _attach(ctx: Context, invoice: Obj, intent: Obj) -> Obj:
    payment = _invoice_payment(invoice, intent, int(intent["amount"]))
    ctx.add(payment)
    invoice["_payments"].append(payment["id"])
    intent["_invoice_payment"] = payment["id"]
    if intent["status"] == "succeeded":
        _apply_payment(ctx, invoice, payment, int(intent["amount_received"]))
    return payment


def intent_succeeded(ctx: Context, intent: Obj) -> None:
    """Called by actions when a PaymentIntent succeeds: credit the invoice it is attached to."""
    payment_id = intent.get("_invoice_payment")
    if not payment_id:
        return
    payment = ctx.account.get(payment_id, "invoice_payment")
    if payment["status"] == "paid":
        return
    invoice = ctx.account.get(payment["invoice"], "invoice")
    if invoice["status"] in _FINAL:
        return
    _apply_payment(ctx, invoice, payment, int(intent["amount_received"]))


@route("POST", "/v1/invoices/<id>/attach_payment", "payment_intent payment_record")
def _invoice_attach_payment(ctx: Context, params: Params, match: re.Match[str]) -> Obj:
    invoice = ctx.account.get(match["id"], "invoice")
    _open_or_raise(invoice, "attach a payment to")
    intent_id = get_str(params, "payment_intent", required=True) or ""
    intent = ctx.account.get(intent_id, "payment_intent", "payment_intent")
    if intent.get("_invoice_payment"):
        raise invalid_param(
            "payment_intent", "This PaymentIntent is already attached to an invoice."
        )
    if intent["currency"] != invoice["currency"]:
        raise invalid_param("payment_intent", "The PaymentIntent's currency is not the invoice's.")
    if intent["status"] == "canceled":
        raise invalid_param("payment_intent", "A canceled PaymentIntent cannot be attached.")
    _attach(ctx, invoice, intent)
    return invoice


@route("POST", "/v1/invoices/<id>/void")
def _invoice_void(ctx: Context, params: Params, match: re.Match[str]) -> Obj:
    invoice = ctx.account.get(match["id"], "invoice")
    _open_or_raise(invoice, "void")
    invoice["status"] = "void"
    invoice["status_transitions"]["voided_at"] = now()
    ctx.emit("invoice.voided", invoice)
    return invoice


@route("POST", "/v1/invoices/<id>/mark_uncollectible")
def _invoice_uncollectible(ctx: Context, params: Params, match: re.Match[str]) -> Obj:
    invoice = ctx.account.get(match["id"], "invoice")
    if invoice["status"] != "open":
        raise StripeError(
            f"You cannot mark an invoice with a status of {invoice['status']} as uncollectible.",
            code="invoice_unexpected_state",
        )
    invoice["status"] = "uncollectible"
    invoice["status_transitions"]["marked_uncollectible_at"] = now()
    ctx.emit("invoice.marked_uncollectible", invoice)
    return invoice


@route("GET", "/v1/invoice_payments", "invoice limit starting_after ending_before payment status")
def _invoice_payment_list(ctx: Context, params: Params, match: re.Match[str]) -> Obj:
    invoice_id = get_str(params, "invoice")
    status = get_str(params, "status")
    found = (
        obj
        for obj in ctx.account.of_kind("invoice_payment")
        if (invoice_id is None or obj["invoice"] == invoice_id)
        and (status is None or obj["status"] == status)
    )
    return paginate(found, params, url="/v1/invoice_payments")


def invoice_payments_list(ctx_account: Any, invoice: Obj) -> Obj:
    """The ``payments`` list an invoice shows when expanded."""
    data = [public(ctx_account.get(pid, "invoice_payment")) for pid in invoice["_payments"]]
    return list_object(data, url=f"/v1/invoice_payments?invoice={invoice['id']}", has_more=False)


# -- Credit notes ---------------------------------------------------------------------------

_CREDIT_NOTE_PARAMS = """
amount credit_amount effective_at email_type invoice lines memo metadata out_of_band_amount
reason refund_amount refunds shipping_cost
"""
_CN_REASONS = ("duplicate", "fraudulent", "order_change", "product_unsatisfactory")


@route("POST", "/v1/credit_notes", _CREDIT_NOTE_PARAMS)
def _credit_note_create(ctx: Context, params: Params, match: re.Match[str]) -> Obj:
    invoice = ctx.account.get(get_str(params, "invoice", required=True) or "", "invoice", "invoice")
    if invoice["status"] not in ("open", "paid"):
        raise StripeError(
            "Credit notes can only be issued on open or paid invoices.", param="invoice"
        )
    amount = get_int(params, "amount", minimum=1)
    if amount is None:
        raise missing_param("amount")
    reason = get_str(params, "reason")
    if reason is not None and reason not in _CN_REASONS:
        raise invalid_param("reason", "Invalid reason.")
    pre_payment = invoice["status"] == "open"
    limit = invoice["amount_remaining"] if pre_payment else invoice["amount_paid"]
    if amount > limit:
        raise invalid_param("amount", "The credit note's amount is more than the invoice allows.")
    count = sum(1 for cn in ctx.account.of_kind("credit_note") if cn["invoice"] == invoice["id"])
    note = ctx.add(
        {
            "id": new_id("cn_", 24),
            "object": "credit_note",
            "amount": amount,
            "created": now(),
            "currency": invoice["currency"],
            "customer": invoice["customer"],
            "effective_at": now(),
            "invoice": invoice["id"],
            "livemode": False,
            "memo": get_str(params, "memo"),
            "metadata": get_metadata(params),
            "number": f"{invoice['number']}-CN-{count + 1:02d}",
            "out_of_band_amount": get_int(params, "out_of_band_amount"),
            "pre_payment_amount": amount if pre_payment else 0,
            "post_payment_amount": 0 if pre_payment else amount,
            "reason": reason,
            "status": "issued",
            "subtotal": amount,
            "total": amount,
            "type": "pre_payment" if pre_payment else "post_payment",
            "voided_at": None,
        }
    )
    if pre_payment:
        invoice["pre_payment_credit_notes_amount"] += amount
    else:
        invoice["post_payment_credit_notes_amount"] += amount
    _recompute(invoice)
    ctx.emit("credit_note.created", note)
    ctx.emit("invoice.updated", invoice)
    if pre_payment and invoice["amount_remaining"] == 0:
        _mark_paid(ctx, invoice)
    return note


@route("GET", "/v1/credit_notes", "created customer ending_before invoice limit starting_after")
def _credit_note_list(ctx: Context, params: Params, match: re.Match[str]) -> Obj:
    customer, invoice = get_str(params, "customer"), get_str(params, "invoice")
    found = (
        obj
        for obj in ctx.account.of_kind("credit_note")
        if (customer is None or obj["customer"] == customer)
        and (invoice is None or obj["invoice"] == invoice)
        and _created_matches(obj, params)
    )
    return paginate(found, params, url="/v1/credit_notes")


@route("GET", "/v1/credit_notes/<id>")
def _credit_note_retrieve(ctx: Context, params: Params, match: re.Match[str]) -> Obj:
    return ctx.account.get(match["id"], "credit_note")


@route("POST", "/v1/credit_notes/<id>/void")
def _credit_note_void(ctx: Context, params: Params, match: re.Match[str]) -> Obj:
    note = ctx.account.get(match["id"], "credit_note")
    if note["status"] != "issued":
        raise StripeError("This credit note is already void.")
    invoice = ctx.account.get(note["invoice"], "invoice")
    if note["type"] == "pre_payment":
        if invoice["status"] != "open":
            raise StripeError("Credit notes of a settled invoice cannot be voided.")
        invoice["pre_payment_credit_notes_amount"] -= note["amount"]
    else:
        invoice["post_payment_credit_notes_amount"] -= note["amount"]
    note.update(status="void", voided_at=now())
    _recompute(invoice)
    ctx.emit("credit_note.voided", note)
    return note


# -- Subscriptions --------------------------------------------------------------------------

_SUBSCRIPTION_PARAMS = """
customer
add_invoice_items application_fee_percent automatic_tax backdate_start_date billing_cycle_anchor
cancel_at cancel_at_period_end collection_method currency days_until_due default_payment_method
description discounts items metadata off_session payment_behavior payment_settings
proration_behavior trial_end trial_period_days
"""


@route("POST", "/v1/subscriptions", _SUBSCRIPTION_PARAMS)
def _subscription_create(ctx: Context, params: Params, match: re.Match[str]) -> Obj:
    customer = ctx.account.get(
        get_str(params, "customer", required=True) or "", "customer", "customer"
    )
    method = get_str(params, "collection_method") or "charge_automatically"
    items: list[Obj] = []
    for index, raw in enumerate(get_list(params, "items")):
        if not isinstance(raw, dict) or not raw.get("price"):
            raise missing_param(f"items[{index}][price]")
        price = ctx.account.get(str(raw["price"]), "price", f"items[{index}][price]")
        if price["recurring"] is None:
            raise invalid_param(f"items[{index}][price]", "The price must be recurring.")
        quantity = get_int(raw, "quantity", minimum=1, label=f"items[{index}][quantity]") or 1
        items.append(
            {
                "id": new_id("si_", 14),
                "object": "subscription_item",
                "price": price,
                "quantity": quantity,
            }
        )
    if not items:
        raise missing_param("items")
    subscription = ctx.add(
        {
            "id": new_id("sub_", 24),
            "object": "subscription",
            "collection_method": method,
            "created": now(),
            "currency": items[0]["price"]["currency"],
            "customer": customer["id"],
            "days_until_due": get_int(params, "days_until_due"),
            "description": get_str(params, "description"),
            "items": list_object(items, url="/v1/subscription_items", has_more=False),
            "latest_invoice": None,
            "livemode": False,
            "metadata": get_metadata(params),
            "status": "active",
        }
    )
    ctx.emit("customer.subscription.created", subscription)
    subscription_invoice(ctx, subscription, "subscription_create")
    return subscription


def subscription_invoice(ctx: Context, subscription: Obj, reason: str) -> Obj:
    """The invoice of one billing period, finalized at once (what Stripe does for the first
    invoice of a subscription, and what advancing a test clock does for the next ones)."""
    customer = ctx.account.get(subscription["customer"], "customer")
    invoice = invoice_new(
        ctx,
        customer=customer,
        currency=subscription["currency"],
        collection_method=subscription["collection_method"],
        days_until_due=subscription["days_until_due"],
        due_date=None,
        description=subscription["description"],
        metadata={},
        auto_advance=True,
        billing_reason=reason,
        subscription=subscription["id"],
    )
    for item in subscription["items"]["data"]:
        price = item["price"]
        product = ctx.account.find(price["product"]) or {}
        invoice["_lines"].append(
            _line(
                invoice_id=invoice["id"],
                amount=int(price["unit_amount"]) * item["quantity"],
                currency=price["currency"],
                description=f"{item['quantity']} x {product.get('name', 'Subscription')}",
                quantity=item["quantity"],
                unit_amount=int(price["unit_amount"]),
                metadata={},
                item_id=None,
                subscription=subscription["id"],
                subscription_item=item["id"],
                price=price,
            )
        )
    _recompute(invoice)
    ctx.emit("invoice.created", invoice)
    invoice_finalize(ctx, invoice)
    subscription["latest_invoice"] = invoice["id"]
    return invoice


@route("GET", "/v1/subscriptions/<id>")
def _subscription_retrieve(ctx: Context, params: Params, match: re.Match[str]) -> Obj:
    return ctx.account.get(match["id"], "subscription")


@route("GET", "/v1/subscriptions", "customer status limit starting_after ending_before")
def _subscription_list(ctx: Context, params: Params, match: re.Match[str]) -> Obj:
    customer = get_str(params, "customer")
    found = (
        obj
        for obj in ctx.account.of_kind("subscription")
        if customer is None or obj["customer"] == customer
    )
    return paginate(found, params, url="/v1/subscriptions")


# -- Bulk creation (control API) ------------------------------------------------------------


def customer_new(ctx: Context, *, name: str | None, email: str | None) -> Obj:
    return _customer_create(ctx, {"name": name or "", "email": email or ""}, _match_id("-"))


def seed_invoices(ctx: Context, specs: list[Obj]) -> list[str]:
    """Many finalized invoices at once, as the SDK would make them one call at a time (same
    objects, same events): what a test of a large account needs without thousands of
    requests. Each spec: ``customer`` (an id, or ``{"name", "email"}``, made once per email),
    ``currency``, ``lines`` (``[{"description", "quantity", "unit_amount"}]``) and the
    ``status`` to leave it in (draft, open, paid, void, uncollectible)."""
    made: dict[str, Obj] = {}
    ids = []
    for spec in specs:
        raw = spec.get("customer")
        if isinstance(raw, str):
            customer = ctx.account.get(raw, "customer", "customer")
        else:
            raw = raw or {}
            key = str(raw.get("email") or raw.get("name") or "")
            customer = made.get(key) or customer_new(
                ctx, name=raw.get("name"), email=raw.get("email")
            )
            made[key] = customer
        currency = str(spec.get("currency") or "usd")
        invoice = invoice_new(
            ctx,
            customer=customer,
            currency=currency,
            collection_method="send_invoice",
            days_until_due=int(spec.get("days_until_due", 30)),
            due_date=None,
            description=spec.get("description"),
            metadata={},
            auto_advance=False,
            billing_reason="manual",
        )
        ctx.emit("invoice.created", invoice)
        for line in spec.get("lines") or []:
            quantity = int(line.get("quantity", 1))
            unit = int(line["unit_amount"])
            item = ctx.add(
                {
                    "id": new_id("ii_", 24),
                    "object": "invoiceitem",
                    "amount": unit * quantity,
                    "currency": currency,
                    "customer": customer["id"],
                    "date": now(),
                    "description": line.get("description"),
                    "discountable": True,
                    "invoice": None,
                    "livemode": False,
                    "metadata": {},
                    "quantity": quantity,
                    "_unit_amount": unit,
                    "_price": None,
                }
            )
            _attach_item(ctx, invoice, item)
        status = spec.get("status", "open")
        if status != "draft":
            invoice_finalize(ctx, invoice)
        if status == "paid" and invoice["status"] != "paid":
            _invoice_pay(ctx, {"paid_out_of_band": "true"}, _match_id(invoice["id"]))
        elif status == "void":
            _invoice_void(ctx, {}, _match_id(invoice["id"]))
        elif status == "uncollectible":
            _invoice_uncollectible(ctx, {}, _match_id(invoice["id"]))
        ids.append(invoice["id"])
    return ids


_ID = re.compile(r"(?P<id>.+)")


def _match_id(object_id: str) -> re.Match[str]:
    match = _ID.fullmatch(object_id)
    assert match is not None
    return match
