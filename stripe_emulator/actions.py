"""State changes, each raising the Events Stripe raises for it, in Stripe's order.

Every function runs with ``ctx.account.lock`` held and takes already-validated arguments (the
routes in ``api.py`` and the hosted page turn requests into them).
"""

from __future__ import annotations

from typing import Any, NoReturn

from . import objects
from .cards import Card
from .core import Context
from .errors import StripeError, unexpected_state
from .money import format_amount
from .objects import Obj

_CANCELABLE = (
    "requires_payment_method",
    "requires_capture",
    "requires_confirmation",
    "requires_action",
    "processing",
)
_CONFIRMABLE = ("requires_payment_method", "requires_confirmation")


# -- Checkout Sessions ----------------------------------------------------------------------


def checkout_session_create(ctx: Context, **fields: Any) -> Obj:
    # Stripe raises no event for a new Checkout Session.
    return ctx.add(objects.checkout_session(base_url=ctx.base_url, **fields))


def checkout_session_expire(ctx: Context, session: Obj) -> Obj:
    if session["status"] != "open":
        raise StripeError(
            f"Session is not in an expirable state. Only Checkout Sessions with a status in "
            f'["open"] can be expired; this one is {session["status"]}.',
            code="checkout_session_not_open"
            if session["status"] == "complete"
            else "checkout_session_expired",
        )
    intent_id = session["payment_intent"]
    if intent_id is not None:
        # A Session whose payment attempt failed has a PaymentIntent; expiring cancels it.
        intent = ctx.account.get(intent_id, "payment_intent")
        if intent["status"] in _CANCELABLE:
            _cancel(ctx, intent, "abandoned")
    session.update(status="expired", url=None)
    ctx.emit("checkout.session.expired", session)
    return session


def checkout_session_pay(ctx: Context, session: Obj, *, card: Card, email: str | None) -> Obj:
    """What pressing "Pay" on the hosted page does; raises a card error on a decline."""
    intent = _intent_for_session(ctx, session)
    try:
        payment_intent_confirm(ctx, intent, method=payment_method_create(ctx, card))
    finally:
        session["customer_details"] = {
            "address": None,
            "email": email or session["customer_email"],
            "name": None,
            "phone": None,
            "tax_exempt": "none",
            "tax_ids": [],
        }
    # A card still "processing" completes the Session unpaid, as Stripe does for delayed
    # payment methods; checkout.session.async_payment_succeeded follows when it settles.
    paid = intent["status"] == "succeeded"
    session.update(status="complete", payment_status="paid" if paid else "unpaid", url=None)
    ctx.emit("checkout.session.completed", session)
    return session


def _intent_for_session(ctx: Context, session: Obj) -> Obj:
    # Checkout creates the PaymentIntent at the first payment attempt and reuses it on retries.
    if session["payment_intent"] is not None:
        return ctx.account.get(session["payment_intent"], "payment_intent")
    data = session["_payment_intent_data"]
    intent = payment_intent_create(
        ctx,
        amount=session["amount_total"],
        currency=session["currency"],
        metadata=dict(data.get("metadata", {})),
        description=data.get("description"),
        receipt_email=data.get("receipt_email"),
        payment_method_types=["card"],
        automatic_payment_methods=False,
    )
    intent["_checkout_session"] = session["id"]
    session["payment_intent"] = intent["id"]
    return intent


# -- PaymentIntents -------------------------------------------------------------------------


def payment_intent_create(ctx: Context, **fields: Any) -> Obj:
    intent = ctx.add(objects.payment_intent(**fields))
    ctx.emit("payment_intent.created", intent)
    return intent


def payment_method_create(ctx: Context, card: Card) -> Obj:
    method = ctx.add(objects.payment_method(card))
    method["_card"] = card  # what confirming with it will do
    return method


def payment_intent_confirm(
    ctx: Context,
    intent: Obj,
    *,
    method: Obj | None,
    receipt_email: str | None = None,
) -> Obj:
    """Charge ``method``, or else the payment method already attached to the intent."""
    if intent["status"] not in _CONFIRMABLE:
        raise unexpected_state(
            f"You cannot confirm this PaymentIntent because it has a status of "
            f"{intent['status']}. Only a PaymentIntent with one of the following statuses may be "
            f"confirmed: {', '.join(_CONFIRMABLE)}."
        )
    if method is None and intent["payment_method"] is not None:
        method = ctx.account.get(intent["payment_method"], "payment_method")
    if method is None:
        raise unexpected_state(
            "You cannot confirm this PaymentIntent because it's missing a payment method. You "
            "can either update the PaymentIntent with a payment method and then confirm it "
            "again, or confirm it again directly with a payment method."
        )
    card: Card = method["_card"]
    if receipt_email is not None:
        intent["receipt_email"] = receipt_email
    intent["payment_method"] = method["id"]
    if card.outcome == "declined":
        _decline(ctx, intent, method, card)
    charge = ctx.add(
        objects.charge(
            intent=intent,
            method=method,
            card=card,
            status="succeeded" if card.outcome == "succeeded" else "pending",
        )
    )
    intent.update(latest_charge=charge["id"], last_payment_error=None)
    if card.outcome == "succeeded":
        intent.update(status="succeeded", amount_received=intent["amount"])
        ctx.emit("charge.succeeded", charge)
        ctx.emit("payment_intent.succeeded", intent)
        _credit_invoice(ctx, intent)
        return intent
    intent["status"] = "processing"
    ctx.emit("charge.pending", charge)
    ctx.emit("payment_intent.processing", intent)
    _schedule_settlement(ctx, intent["id"])
    return intent


def _credit_invoice(ctx: Context, intent: Obj) -> None:
    """A succeeded PaymentIntent attached to an invoice pays it (invoices.attach_payment)."""
    if intent.get("_invoice_payment"):
        from . import billing  # billing builds on these actions

        billing.intent_succeeded(ctx, intent)


def _decline(ctx: Context, intent: Obj, method: Obj, card: Card) -> NoReturn:
    charge = ctx.add(objects.charge(intent=intent, method=method, card=card, status="failed"))
    error = _card_error(card, charge_id=charge["id"], method=method)
    # As on Stripe: the failed method is detached and the intent waits for another one.
    intent.update(
        status="requires_payment_method",
        latest_charge=charge["id"],
        last_payment_error=error,
        payment_method=None,
    )
    ctx.emit("charge.failed", charge)
    ctx.emit("payment_intent.payment_failed", intent)
    raise StripeError(
        card.message,
        status=402,
        type="card_error",
        code=card.error_code,
        extra={
            "charge": charge["id"],
            "decline_code": card.decline_code,
            "doc_url": error["doc_url"],
            "payment_intent": objects.public(intent),
            "payment_method": objects.public(method),
        },
    )


def _card_error(card: Card, *, charge_id: str, method: Obj) -> Obj:
    return {
        "charge": charge_id,
        "code": card.error_code,
        "decline_code": card.decline_code,
        "doc_url": f"https://stripe.com/docs/error-codes/{card.error_code.replace('_', '-')}",
        "message": card.message,
        "payment_method": objects.public(method),
        "type": "card_error",
    }


def _schedule_settlement(ctx: Context, intent_id: str) -> None:
    delay = ctx.emulator.settings["processing_delay_ms"]
    if delay is None:
        return
    emulator, account, base_url = ctx.emulator, ctx.account, ctx.base_url

    def settle() -> None:
        with account.lock:
            intent = account.objects.get(intent_id)
            if intent is not None and intent["status"] == "processing":
                payment_intent_settle(emulator.context(account, base_url=base_url), intent, True)

    emulator.later(delay, settle)


def payment_intent_settle(ctx: Context, intent: Obj, succeeded: bool) -> Obj:
    """A "processing" payment finishes: funds arrive, or the bank reports a failure."""
    if intent["status"] != "processing":
        raise unexpected_state(
            f"This PaymentIntent is {intent['status']}; only a processing one can settle."
        )
    charge = ctx.account.get(intent["latest_charge"], "charge")
    session_id = intent.get("_checkout_session")
    session = ctx.account.get(session_id, "checkout.session") if session_id else None
    if succeeded:
        charge.update(
            status="succeeded",
            paid=True,
            captured=True,
            amount_captured=charge["amount"],
            balance_transaction=objects.new_id("txn_"),
        )
        intent.update(status="succeeded", amount_received=intent["amount"])
        ctx.emit("charge.succeeded", charge)
        ctx.emit("payment_intent.succeeded", intent)
        _credit_invoice(ctx, intent)
        if session is not None:
            session["payment_status"] = "paid"
            ctx.emit("checkout.session.async_payment_succeeded", session)
        return intent
    method = ctx.account.get(intent["payment_method"], "payment_method")
    card: Card = method["_card"]
    declined = Card(card.number, card.brand, "declined", decline_code="generic_decline")
    charge.update(
        status="failed",
        failure_code=declined.error_code,
        failure_message=declined.message,
    )
    intent.update(
        status="requires_payment_method",
        last_payment_error=_card_error(declined, charge_id=charge["id"], method=method),
        payment_method=None,
    )
    ctx.emit("charge.failed", charge)
    ctx.emit("payment_intent.payment_failed", intent)
    if session is not None:
        ctx.emit("checkout.session.async_payment_failed", session)
    return intent


def payment_intent_cancel(ctx: Context, intent: Obj, reason: str | None) -> Obj:
    if intent.get("_checkout_session"):
        raise unexpected_state(
            "You cannot cancel this PaymentIntent because it was created by Checkout. To cancel "
            "it, expire the Checkout Session instead."
        )
    if intent["status"] not in _CANCELABLE:
        raise unexpected_state(
            f"You cannot cancel this PaymentIntent because it has a status of {intent['status']}."
            f" Only a PaymentIntent with one of the following statuses may be canceled: "
            f"{', '.join(_CANCELABLE)}."
        )
    return _cancel(ctx, intent, reason)


def _cancel(ctx: Context, intent: Obj, reason: str | None) -> Obj:
    intent.update(status="canceled", canceled_at=objects.now(), cancellation_reason=reason)
    ctx.emit("payment_intent.canceled", intent)
    return intent


# -- Refunds --------------------------------------------------------------------------------


def refund_create(
    ctx: Context,
    charge: Obj,
    *,
    amount: int | None,
    reason: str | None,
    metadata: dict[str, str],
) -> Obj:
    if charge["status"] != "succeeded":
        raise StripeError(
            f"Charge {charge['id']} has a status of {charge['status']}; only a successful "
            "charge can be refunded.",
            param="charge",
        )
    remaining = charge["amount_captured"] - charge["amount_refunded"]
    if remaining <= 0:
        raise StripeError(
            f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded"
        )
    amount = remaining if amount is None else amount
    if amount > remaining:
        currency = charge["currency"]
        raise StripeError(
            f"Refund amount ({format_amount(amount, currency)}) is greater than unrefunded "
            f"amount on charge ({format_amount(remaining, currency)})",
            param="amount",
            code="amount_too_large",
        )
    refund = ctx.add(
        objects.refund(charge_obj=charge, amount=amount, reason=reason, metadata=metadata)
    )
    previous = {"amount_refunded": charge["amount_refunded"], "refunded": charge["refunded"]}
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] >= charge["amount_captured"]
    ctx.emit("refund.created", refund)
    ctx.emit("charge.refunded", charge, previous)
    return refund
