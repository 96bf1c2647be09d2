"""The one module that talks to Stripe (the only import of ``stripe`` in the project).

- The API version is pinned (API_VERSION), so a Stripe-side default change cannot alter the
  shape of what we read; webhooks are configured on the same version.
- ``settings.STRIPE_API_BASE`` is honoured on every call (the local emulator in tests and
  under ``make run``).
- Amounts go in and come out as int minor units, which is what Stripe uses: no conversion.
- Stripe's objects never leave this module: callers get small frozen dataclasses, and
  Stripe's errors become ours (PaymentProviderError and subclasses), with a message that is
  safe to show a customer.
- Every call logs one structured line (operation, ids, outcome), never a key or secret.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import stripe
from django.conf import settings
from django.utils.translation import gettext as _

from core.errors import ApplicationError

logger = logging.getLogger("payments.stripe")

API_VERSION = "2026-10-28.endive"
# Stripe's own default tolerance: a signature older than this is refused (replay protection).
WEBHOOK_TOLERANCE_SECONDS = 300
# The SDK checks only the age of a signature; one dated further ahead than this (clock skew
# between Stripe and us is seconds) is refused as well: it would otherwise stay replayable
# for as long as it is dated ahead.
WEBHOOK_FUTURE_TOLERANCE_SECONDS = 60


class PaymentProviderError(ApplicationError):
    """Stripe refused or could not be reached. ``message`` is safe to show a customer."""

    def __init__(self, message: str, *, code: str = "", retryable: bool = False) -> None:
        # 502: the refusal comes from the payment provider, not from the request.
        super().__init__(code or "provider_error", message, None, 502)
        self.retryable = retryable


class CardDeclined(PaymentProviderError):
    pass


class ProviderUnavailable(PaymentProviderError):
    """Network trouble or a Stripe outage: trying again later may work."""


class BadSignature(Exception):
    """A webhook whose Stripe-Signature is missing, wrong or too old."""


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str | None
    status: str  # open, complete, expired
    payment_status: str  # paid, unpaid, no_payment_required
    payment_intent: str | None
    amount_total: int
    currency: str
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PaymentIntent:
    id: str
    status: str  # requires_payment_method, processing, succeeded, canceled, ...
    amount: int
    amount_received: int
    currency: str
    client_secret: str | None
    latest_charge: str | None
    metadata: Mapping[str, str] = field(default_factory=dict)
    # The last decline, in Stripe's words (safe to show: it is written for customers).
    last_error: str | None = None


def _client(secret_key: str) -> stripe.StripeClient:
    return stripe.StripeClient(
        secret_key,
        stripe_version=API_VERSION,
        base_addresses={"api": settings.STRIPE_API_BASE},
        # Retries reuse the same idempotency key, so they cannot charge twice.
        max_network_retries=2,
    )


def _as_dict(obj: Any) -> dict[str, Any]:
    result: dict[str, Any] = obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)
    return result


def _translate(exc: stripe.StripeError, operation: str) -> PaymentProviderError:
    code = getattr(exc, "code", None) or ""
    logger.warning(
        "stripe.error operation=%s type=%s code=%s request_id=%s status=%s",
        operation,
        type(exc).__name__,
        code,
        getattr(exc, "request_id", None),
        getattr(exc, "http_status", None),
    )
    if isinstance(exc, stripe.CardError):
        return CardDeclined(exc.user_message or _("Your card was declined."), code=code)
    if isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError | stripe.APIError):
        return ProviderUnavailable(
            _("The payment service is not reachable right now. Please try again in a minute."),
            code=code or "unavailable",
            retryable=True,
        )
    if code == "amount_too_small":
        return PaymentProviderError(_("The amount is below the minimum card payment."), code=code)
    if isinstance(exc, stripe.AuthenticationError | stripe.PermissionError):
        return PaymentProviderError(
            _("Online payment is not available for this invoice right now."), code="auth"
        )
    return PaymentProviderError(
        _("The payment could not be started. Please try again."), code=code or "invalid"
    )


def _log(operation: str, started: float, **fields: Any) -> None:
    parts = " ".join(f"{name}={value}" for name, value in fields.items())
    elapsed_ms = int((time.monotonic() - started) * 1000)
    logger.info("stripe.ok operation=%s %s ms=%d", operation, parts, elapsed_ms)


def _session(obj: Any) -> CheckoutSession:
    data = _as_dict(obj)
    intent = data.get("payment_intent")
    if isinstance(intent, dict):
        intent = intent.get("id")
    return CheckoutSession(
        id=data["id"],
        url=data.get("url"),
        status=data.get("status") or "",
        payment_status=data.get("payment_status") or "",
        payment_intent=intent,
        amount_total=int(data.get("amount_total") or 0),
        currency=data.get("currency") or "",
        metadata=dict(data.get("metadata") or {}),
    )


def intent_from_dict(data: Mapping[str, Any]) -> PaymentIntent:
    """A PaymentIntent from Stripe's JSON (an API answer or a webhook event's object)."""
    error = data.get("last_payment_error") or {}
    charge = data.get("latest_charge")
    if isinstance(charge, dict):
        charge = charge.get("id")
    return PaymentIntent(
        id=data["id"],
        status=data.get("status") or "",
        amount=int(data.get("amount") or 0),
        amount_received=int(data.get("amount_received") or 0),
        currency=data.get("currency") or "",
        client_secret=data.get("client_secret"),
        latest_charge=charge,
        metadata=dict(data.get("metadata") or {}),
        last_error=error.get("message") if isinstance(error, dict) else None,
    )


def session_from_dict(data: Mapping[str, Any]) -> CheckoutSession:
    return _session(dict(data))


def checkout_session_create(
    *,
    secret_key: str,
    amount: int,
    currency: str,
    description: str,
    customer_email: str | None,
    metadata: Mapping[str, str],
    success_url: str,
    cancel_url: str,
    idempotency_key: str,
    locale: str = "auto",
) -> CheckoutSession:
    started = time.monotonic()
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": currency,
                    "unit_amount": amount,
                    "product_data": {"name": description},
                },
            }
        ],
        "metadata": dict(metadata),
        "payment_intent_data": {"metadata": dict(metadata), "description": description},
        "client_reference_id": metadata.get("invoice", ""),
        "success_url": success_url,
        "cancel_url": cancel_url,
        # The hosted page speaks the language our invoice page spoke (en, de, fr, es).
        "locale": locale,
    }
    if customer_email:
        params["customer_email"] = customer_email
    try:
        obj = _client(secret_key).v1.checkout.sessions.create(
            params=params,  # type: ignore[arg-type]
            options={"idempotency_key": idempotency_key},
        )
    except stripe.StripeError as exc:
        raise _translate(exc, "checkout_session_create") from exc
    session = _session(obj)
    _log("checkout_session_create", started, session=session.id, amount=amount, currency=currency)
    return session


def checkout_session_retrieve(*, secret_key: str, session_id: str) -> CheckoutSession:
    started = time.monotonic()
    try:
        obj = _client(secret_key).v1.checkout.sessions.retrieve(session_id)
    except stripe.StripeError as exc:
        raise _translate(exc, "checkout_session_retrieve") from exc
    session = _session(obj)
    _log("checkout_session_retrieve", started, session=session.id, status=session.status)
    return session


def checkout_session_expire(*, secret_key: str, session_id: str) -> CheckoutSession | None:
    """Expire an open Checkout Session so it can no longer be paid. None when it was not open
    any more (completed or already expired): nothing to do, and not an error."""
    started = time.monotonic()
    try:
        obj = _client(secret_key).v1.checkout.sessions.expire(session_id)
    except stripe.InvalidRequestError as exc:
        if getattr(exc, "code", None) in ("checkout_session_not_open", "checkout_session_expired"):
            _log("checkout_session_expire", started, session=session_id, status="not_open")
            return None
        raise _translate(exc, "checkout_session_expire") from exc
    except stripe.StripeError as exc:
        raise _translate(exc, "checkout_session_expire") from exc
    session = _session(obj)
    _log("checkout_session_expire", started, session=session.id, status=session.status)
    return session


def payment_intent_create(
    *,
    secret_key: str,
    amount: int,
    currency: str,
    description: str,
    receipt_email: str | None,
    metadata: Mapping[str, str],
    idempotency_key: str,
) -> PaymentIntent:
    started = time.monotonic()
    params: dict[str, Any] = {
        "amount": amount,
        "currency": currency,
        "description": description,
        "metadata": dict(metadata),
        "payment_method_types": ["card"],
    }
    if receipt_email:
        params["receipt_email"] = receipt_email
    try:
        obj = _client(secret_key).v1.payment_intents.create(
            params=params,  # type: ignore[arg-type]
            options={"idempotency_key": idempotency_key},
        )
    except stripe.StripeError as exc:
        raise _translate(exc, "payment_intent_create") from exc
    intent = intent_from_dict(_as_dict(obj))
    _log("payment_intent_create", started, intent=intent.id, amount=amount, currency=currency)
    return intent


def payment_intent_retrieve(*, secret_key: str, intent_id: str) -> PaymentIntent:
    started = time.monotonic()
    try:
        obj = _client(secret_key).v1.payment_intents.retrieve(intent_id)
    except stripe.StripeError as exc:
        raise _translate(exc, "payment_intent_retrieve") from exc
    intent = intent_from_dict(_as_dict(obj))
    _log("payment_intent_retrieve", started, intent=intent.id, status=intent.status)
    return intent


@dataclass(frozen=True)
class RefundResult:
    id: str
    amount: int
    # Everything refunded on the payment's charge so far, this refund included.
    charge_amount_refunded: int


def refund_create(
    *, secret_key: str, intent_id: str, amount: int | None = None, idempotency_key: str
) -> RefundResult:
    """Refund (part of) a payment, and read back the charge's running total of refunds (the
    same total charge.refunded carries, so either may record it first)."""
    started = time.monotonic()
    params: dict[str, Any] = {"payment_intent": intent_id}
    if amount is not None:
        params["amount"] = amount
    client = _client(secret_key)
    try:
        obj = _as_dict(
            client.v1.refunds.create(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": idempotency_key},
            )
        )
        charge_id = obj.get("charge")
        if isinstance(charge_id, dict):
            charge_id = charge_id.get("id")
        charge = _as_dict(client.v1.charges.retrieve(str(charge_id)))
    except stripe.StripeError as exc:
        raise _translate(exc, "refund_create") from exc
    result = RefundResult(
        id=str(obj["id"]),
        amount=int(obj.get("amount") or 0),
        charge_amount_refunded=int(charge.get("amount_refunded") or 0),
    )
    _log("refund_create", started, intent=intent_id, refund=result.id, amount=result.amount)
    return result


def _signature_timestamp(signature: str) -> int:
    """The t= of a Stripe-Signature header (verify_header has already parsed it once)."""
    for item in signature.split(","):
        key, _sep, value = item.strip().partition("=")
        if key == "t" and value.strip().isdigit():
            return int(value)
    return 0


def webhook_event_verify(*, payload: bytes, signature: str, secret: str) -> dict[str, Any]:
    """The event as a dict once its Stripe-Signature header checks out (BadSignature if not:
    missing, forged, signed with another secret, older than WEBHOOK_TOLERANCE_SECONDS or dated
    more than WEBHOOK_FUTURE_TOLERANCE_SECONDS ahead)."""
    try:
        stripe.WebhookSignature.verify_header(
            payload.decode("utf-8"), signature, secret, WEBHOOK_TOLERANCE_SECONDS
        )
    except (stripe.SignatureVerificationError, UnicodeDecodeError) as exc:
        raise BadSignature(str(exc)) from None
    if _signature_timestamp(signature) > time.time() + WEBHOOK_FUTURE_TOLERANCE_SECONDS:
        raise BadSignature("Timestamp in the future.")
    try:
        event: dict[str, Any] = json.loads(payload)
    except ValueError as exc:
        raise BadSignature("The payload is not JSON.") from exc
    if not isinstance(event, dict) or not isinstance(event.get("id"), str):
        raise BadSignature("The payload is not an event.")
    return event


# Billing objects (Stripe sync) ----------------------------------------------------------
# Customers, invoices (with their lines and payments) and credit notes of the company's own
# account, handed out as plain JSON dicts (what a webhook event carries), never SDK objects.

SYNC_PAGE_SIZE = 100
_LISTS = ("customers", "invoices", "credit_notes")


@dataclass(frozen=True)
class ListPage:
    data: list[dict[str, Any]]
    has_more: bool


def _get_json(secret_key: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
    """A GET answered as plain JSON: lists of hundreds of invoices with their lines are read
    as data, without building an SDK object per field (Stripe's errors are raised as usual)."""
    response = _client(secret_key).raw_request("get", path, **params)
    data: dict[str, Any] = response.data
    return data


def _missing(exc: stripe.StripeError) -> bool:
    """Stripe's "No such …": the object is gone, or belongs to another account."""
    return getattr(exc, "code", None) == "resource_missing" or exc.http_status == 404


def objects_page(
    *,
    secret_key: str,
    resource: str,
    starting_after: str | None = None,
    created_gte: int | None = None,
    limit: int = SYNC_PAGE_SIZE,
) -> ListPage:
    """One page (newest first, Stripe's order) of the account's customers, invoices or credit
    notes, after ``starting_after``. Invoices come with their payments."""
    if resource not in _LISTS:
        raise ValueError(resource)
    started = time.monotonic()
    params: dict[str, Any] = {"limit": limit}
    if starting_after:
        params["starting_after"] = starting_after
    if created_gte is not None:
        params["created"] = {"gte": created_gte}
    if resource == "invoices":
        params["expand"] = ["data.payments"]
    try:
        page = _get_json(secret_key, f"/v1/{resource}", params)
    except stripe.StripeError as exc:
        raise _translate(exc, f"{resource}_list") from exc
    result = ListPage(data=list(page["data"]), has_more=bool(page.get("has_more")))
    _log(f"{resource}_list", started, count=len(result.data), after=starting_after or "-")
    return result


def invoices_changed_page(
    *, secret_key: str, created_gte: int, starting_after: str | None = None
) -> ListPage:
    """One page of the invoice events raised since ``created_gte`` (newest first): what the
    periodic reconciliation reads to find invoices whose webhook never reached us."""
    started = time.monotonic()
    params: dict[str, Any] = {
        "limit": SYNC_PAGE_SIZE,
        "types": ["invoice.*", "credit_note.*", "customer.*"],
        "created": {"gte": created_gte},
    }
    if starting_after:
        params["starting_after"] = starting_after
    try:
        page = _get_json(secret_key, "/v1/events", params)
    except stripe.StripeError as exc:
        raise _translate(exc, "events_list") from exc
    result = ListPage(data=list(page["data"]), has_more=bool(page.get("has_more")))
    _log("events_list", started, count=len(result.data))
    return result


def object_retrieve(*, secret_key: str, resource: str, object_id: str) -> dict[str, Any] | None:
    """The current state of a customer, invoice or credit note; None when Stripe has no such
    object for this key (deleted, or another account's)."""
    if resource not in _LISTS:
        raise ValueError(resource)
    started = time.monotonic()
    params: dict[str, Any] = {"expand": ["payments"]} if resource == "invoices" else {}
    if not object_id.replace("_", "").isalnum():
        return None  # not an id Stripe could have made; never put into a URL
    try:
        data = _get_json(secret_key, f"/v1/{resource}/{object_id}", params)
    except stripe.StripeError as exc:
        if _missing(exc):
            _log(f"{resource}_retrieve", started, id=object_id, outcome="missing")
            return None
        raise _translate(exc, f"{resource}_retrieve") from exc
    _log(f"{resource}_retrieve", started, id=object_id)
    return None if data.get("deleted") else data


def invoice_lines_after(
    *, secret_key: str, invoice_id: str, starting_after: str
) -> list[dict[str, Any]]:
    """Every line of an invoice after ``starting_after`` (an invoice embeds only its first
    page of lines; this pages through the rest)."""
    started = time.monotonic()
    lines: list[dict[str, Any]] = []
    cursor = starting_after
    try:
        while True:
            page = _get_json(
                secret_key,
                f"/v1/invoices/{invoice_id}/lines",
                {"limit": SYNC_PAGE_SIZE, "starting_after": cursor},
            )
            lines.extend(page["data"])
            if not page.get("has_more") or not page["data"]:
                break
            cursor = str(page["data"][-1]["id"])
    except stripe.StripeError as exc:
        raise _translate(exc, "invoice_lines_list") from exc
    _log("invoice_lines_list", started, invoice=invoice_id, count=len(lines))
    return lines


def account_id_retrieve(*, secret_key: str) -> str:
    """The acct_… id of the account the key belongs to."""
    started = time.monotonic()
    try:
        account = _client(secret_key).v1.accounts.retrieve_current()
    except stripe.StripeError as exc:
        raise _translate(exc, "account_retrieve") from exc
    _log("account_retrieve", started, account=account.id)
    return str(account.id)


def invoice_payment_intent_create(
    *,
    secret_key: str,
    invoice_id: str,
    customer_id: str,
    amount: int,
    currency: str,
    description: str,
    metadata: Mapping[str, str],
    idempotency_key: str,
) -> PaymentIntent:
    """A PaymentIntent for a Stripe invoice's customer, attached to the invoice
    (``invoices.attach_payment``): once it succeeds Stripe credits the invoice and, paid in
    full, marks it paid. Both calls are idempotent: a retry reuses the intent, and an intent
    already attached (a retry after a lost answer) is not an error."""
    started = time.monotonic()
    client = _client(secret_key)
    params: dict[str, Any] = {
        "amount": amount,
        "currency": currency,
        "customer": customer_id,
        "description": description,
        "metadata": dict(metadata),
        "payment_method_types": ["card"],
    }
    try:
        obj = client.v1.payment_intents.create(
            params=params,  # type: ignore[arg-type]
            options={"idempotency_key": idempotency_key},
        )
        intent = intent_from_dict(_as_dict(obj))
        try:
            client.v1.invoices.attach_payment(
                invoice_id,
                params={"payment_intent": intent.id},
                options={"idempotency_key": idempotency_key + ":attach"},
            )
        except stripe.InvalidRequestError as exc:
            if "already attached" not in str(exc.user_message or exc):
                raise
    except stripe.StripeError as exc:
        raise _translate(exc, "invoice_payment_intent_create") from exc
    _log("invoice_payment_intent_create", started, intent=intent.id, invoice=invoice_id)
    return intent
