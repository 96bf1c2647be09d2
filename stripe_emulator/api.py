"""The ``/v1/`` API: authentication, idempotency, routing and parameter validation.

Each route turns request parameters into the typed arguments of an operation in
``actions.py`` and answers with the stored object, as Stripe does.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import actions, cards, money, objects
from .core import Context, Emulator
from .errors import StripeError, authentication, invalid_param, missing_param, no_such
from .objects import Obj
from .params import (
    Params,
    decode_form,
    fingerprint,
    get_bool,
    get_currency,
    get_dict,
    get_int,
    get_list,
    get_metadata,
    get_str,
    reject_unknown,
)
from .query import expand, paginate
from .store import IdempotencyRecord
from .wire import Request, Response, json_response

logger = logging.getLogger(__name__)

Handler = Callable[[Context, Params, "re.Match[str]"], Obj]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    allowed: frozenset[str]
    # Reachable with a publishable key (what Stripe.js uses), given the object's client_secret.
    publishable: bool


ROUTES: list[Route] = []


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


def route(
    method: str, path: str, allowed: str = "", *, publishable: bool = False
) -> Callable[[Handler], Handler]:
    """Register a handler; ``allowed`` lists the top-level parameters Stripe accepts there."""
    pattern = re.compile(re.sub(r"<(\w+)>", r"(?P<\1>[A-Za-z0-9_]+)", path))

    def register(handler: Handler) -> Handler:
        names = _names(allowed) | {"expand"}
        ROUTES.append(Route(method, pattern, handler, names, publishable))
        return handler

    return register


# -- request handling -----------------------------------------------------------------------

_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}(\.[a-z]+)?")


def handle(emulator: Emulator, request: Request) -> Response:
    request_id = objects.new_id("req_", 14)
    headers = {"Request-Id": request_id}
    try:
        return _handle(emulator, request, request_id, headers)
    except StripeError as exc:
        return json_response(exc.status, exc.body(), headers)
    except Exception:
        logger.exception("emulator error on %s %s", request.method, request.path)
        # Tell the SDK not to retry: the same request would fail the same way.
        headers["Stripe-Should-Retry"] = "false"
        body = {"error": {"type": "api_error", "message": "The Stripe emulator crashed."}}
        return json_response(500, body, headers)


def _handle(
    emulator: Emulator, request: Request, request_id: str, headers: dict[str, str]
) -> Response:
    params = decode_form(request.query if request.method == "GET" else request.text())
    key = _api_key(request, params)
    publishable = (key or "").startswith("pk_")
    if publishable:
        account = emulator.store.account_for_publishable_key(key)
    else:
        account = emulator.store.account_for_secret_key(key)
    found = _match(request)
    if found is None:
        raise StripeError(
            f"Unrecognized request URL ({request.method}: {request.path}). Please see "
            "https://stripe.com/docs or we can help at https://support.stripe.com/.",
            status=404,
        )
    matched_route, match = found
    if publishable and not matched_route.publishable:
        raise authentication(
            "This API call cannot be made with a publishable API key. Please use a secret API "
            "key. You can find a list of your API keys at https://dashboard.stripe.com/account/apikeys."
        )
    version = request.header("Stripe-Version")
    if version is not None and not _VERSION.fullmatch(version):
        raise StripeError(f"Invalid Stripe API version: {version}", param="Stripe-Version")
    idempotency_key = request.header("Idempotency-Key") if request.method == "POST" else None

    with account.lock:
        if version is not None:
            account.api_version = version
        ctx = emulator.context(
            account,
            base_url=request.base_url,
            api_version=version,
            request_id=request_id,
            idempotency_key=idempotency_key,
        )
        headers["Stripe-Version"] = ctx.api_version
        if idempotency_key is None:
            status, body = _run(matched_route, match, ctx, params, publishable)
            return json_response(status, body, headers)
        headers["Idempotency-Key"] = idempotency_key
        endpoint = f"{request.method} {request.path}"
        request_print = fingerprint(params)
        record = account.idempotency.get(idempotency_key)
        if record is not None:
            _check_replay(record, endpoint, request_print, idempotency_key)
            headers["Idempotent-Replayed"] = "true"
            return json_response(record.status, record.body, headers)
        status, body = _run(matched_route, match, ctx, params, publishable)
        # Like Stripe, keep the outcome once the operation ran (a success or a card decline);
        # a request refused by validation may be retried with the same key.
        if status < 400 or status == 402:
            record = IdempotencyRecord(endpoint, request_print, status, body)
            account.idempotency[idempotency_key] = record
        return json_response(status, body, headers)


def _run(
    matched_route: Route, match: re.Match[str], ctx: Context, params: Params, publishable: bool
) -> tuple[int, Obj]:
    try:
        reject_unknown(params, matched_route.allowed)
        if publishable and get_str(params, "client_secret") is None:
            raise missing_param("client_secret")
        result = objects.public(matched_route.handler(ctx, params, match))
        if publishable:
            # Stripe shows a publishable key only a part of the object; metadata is private.
            result.pop("metadata", None)
        return 200, expand(ctx.account, result, params)
    except StripeError as exc:
        body = exc.body()
        if publishable and isinstance(body["error"].get("payment_intent"), dict):
            body["error"]["payment_intent"].pop("metadata", None)
        return exc.status, body


def _check_replay(record: IdempotencyRecord, endpoint: str, request_print: str, key: str) -> None:
    if record.endpoint != endpoint:
        raise StripeError(
            f"Keys for idempotent requests can only be used for the same endpoint they were "
            f"first used for ('{record.endpoint}' vs '{endpoint}'). Try using a key other than "
            f"'{key}' if you meant to execute a different request.",
            type="idempotency_error",
        )
    if record.fingerprint != request_print:
        raise StripeError(
            "Keys for idempotent requests can only be used with the same parameters they were "
            f"first used with. Try using a key other than '{key}' if you meant to execute a "
            "different request.",
            type="idempotency_error",
        )


def _api_key(request: Request, params: Params) -> str | None:
    # Stripe.js sends its publishable key as the ``key`` parameter, not as a header.
    body_key = params.pop("key", None)
    authorization = request.header("Authorization") or ""
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer":
        return credentials.strip()
    if scheme.lower() == "basic":
        # curl -u sk_test_...: sends the key as the user name.
        try:
            return base64.b64decode(credentials).decode().split(":", 1)[0]
        except ValueError:
            return ""
    return body_key if isinstance(body_key, str) else None


def _match(request: Request) -> tuple[Route, re.Match[str]] | None:
    for candidate in ROUTES:
        if candidate.method == request.method:
            match = candidate.pattern.fullmatch(request.path)
            if match is not None:
                return candidate, match
    return None


# -- Checkout Sessions ----------------------------------------------------------------------

_SESSION_PARAMS = """
adaptive_pricing after_expiration allow_promotion_codes automatic_tax billing_address_collection
branding_settings cancel_url client_reference_id consent_collection currency custom_fields
custom_text customer customer_creation customer_email customer_update discounts expires_at
invoice_creation line_items locale metadata mode name_collection optional_items origin_context
payment_intent_data payment_method_collection payment_method_configuration
payment_method_options payment_method_types permissions phone_number_collection
redirect_on_completion return_url saved_payment_method_options setup_intent_data
shipping_address_collection shipping_options submit_type subscription_data success_url
tax_id_collection ui_mode wallet_options
"""
_LINE_ITEM_PARAMS = _names(
    """
    adjustable_quantity amount currency description dynamic_tax_rates images name price price_data quantity tax_rates
    """
)
_PRICE_DATA_PARAMS = _names(
    """
    currency product product_data recurring tax_behavior unit_amount unit_amount_decimal
    """
)
_PI_DATA_PARAMS = _names(
    """
    application_fee_amount capture_method description metadata on_behalf_of receipt_email setup_future_usage shipping statement_descriptor statement_descriptor_suffix transfer_data transfer_group
    """
)


@route("POST", "/v1/checkout/sessions", _SESSION_PARAMS)
def _session_create(ctx: Context, params: Params, match: re.Match[str]) -> Obj:
    mode = get_str(params, "mode", required=True)
    if mode not in ("payment", "setup", "subscription"):
        raise invalid_param("mode", "Invalid mode: must be one of payment, setup, or subscription")
    if mode != "payment":
        raise invalid_param("mode", "The Stripe emulator supports only mode=payment.")
    if get_str(params, "ui_mode") not in (None, "hosted"):
        raise invalid_param("ui_mode", "The Stripe emulator supports only ui_mode=hosted.")
    items = [_line_item(raw, index) for index, raw in enumerate(get_list(params, "line_items"))]
    if not items:
        raise missing_param("line_items")
    currencies = {item["currency"] for item in items}
    currency = get_currency(params, "currency", required=False) or items[0]["currency"]
    if currencies != {currency}:
        raise invalid_param("line_items", "All line items must use the same currency.")
    total = sum(item["amount_total"] for item in items)
    minimum = money.minimum_amount(currency)
    if total < minimum:
        raise StripeError(
            "The Checkout Session's total amount due must add up to at least "
            f"{money.format_amount(minimum, currency)}",
            param="line_items",
            code="amount_too_small",
        )
    intent_data = get_dict(params, "payment_intent_data")
    reject_unknown(intent_data, _PI_DATA_PARAMS, "payment_intent_data")
    _automatic_capture_only(intent_data, "payment_intent_data[capture_method]")
    reference = get_str(params, "client_reference_id")
    if reference is not None and len(reference) > 200:
        raise invalid_param("client_reference_id", "client_reference_id is too long (max 200).")
    return actions.checkout_session_create(
        ctx,
        line_items=items,
        currency=currency,
        customer_email=_email(params, "customer_email"),
        client_reference_id=reference,
        metadata=get_metadata(params),
        success_url=_url(params, "success_url"),
        cancel_url=_url(params, "cancel_url"),
        payment_intent_data={
            "metadata": get_metadata(intent_data),
            "description": get_str(intent_data, "description"),
            "receipt_email": _email(intent_data, "receipt_email", "payment_intent_data"),
        },
    )


def _line_item(raw: Any, index: int) -> Obj:
    label = f"line_items[{index}]"
    if not isinstance(raw, dict):
        raise invalid_param(label, f"Invalid object: {label}")
    reject_unknown(raw, _LINE_ITEM_PARAMS, label)
    quantity = get_int(raw, "quantity", required=True, minimum=1, label=f"{label}[quantity]")
    assert quantity is not None
    if "price" in raw:
        # The emulator keeps no Price catalog: inline price_data is what the app sends.
        raise no_such("price", str(raw["price"]), f"{label}[price]", status=400)
    if "price_data" in raw:
        data = get_dict(raw, "price_data", label=f"{label}[price_data]")
        reject_unknown(data, _PRICE_DATA_PARAMS, f"{label}[price_data]")
        if "recurring" in data:
            raise invalid_param(
                f"{label}[price_data][recurring]",
                "You must be in subscription mode to specify a recurring price.",
            )
        if "product" in data:
            raise no_such(
                "product", str(data["product"]), f"{label}[price_data][product]", status=400
            )
        product = get_dict(data, "product_data", label=f"{label}[price_data][product_data]")
        name = get_str(product, "name")
        if name is None:
            raise missing_param(f"{label}[price_data][product_data][name]")
        currency = _currency(data, f"{label}[price_data][currency]")
        unit_amount = get_int(
            data, "unit_amount", minimum=0, label=f"{label}[price_data][unit_amount]"
        )
        if unit_amount is None:
            raise missing_param(f"{label}[price_data][unit_amount]")
    elif "amount" in raw:
        # The pre-2022 inline form (amount, currency, name), still a simple way to charge a sum.
        name = get_str(raw, "name")
        if name is None:
            raise missing_param(f"{label}[name]")
        currency = _currency(raw, f"{label}[currency]")
        unit_amount = get_int(raw, "amount", minimum=0, label=f"{label}[amount]")
        assert unit_amount is not None
    else:
        raise invalid_param(label, f"You must specify either `price` or `price_data` in {label}.")
    return objects.line_item(
        name=name, currency=currency, unit_amount=unit_amount, quantity=quantity
    )


def _currency(params: Params, label: str) -> str:
    currency = get_currency(params, "currency", label=label)
    assert currency is not None
    return currency


def _email(params: Params, name: str, prefix: str = "") -> str | None:
    value = get_str(params, name)
    label = f"{prefix}[{name}]" if prefix else name
    if value is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
        raise invalid_param(label, f"Invalid email address: {value}")
    return value


def _url(params: Params, name: str) -> str | None:
    value = get_str(params, name)
    if value is not None and not re.match(r"https?://[^/\s]+", value):
        raise invalid_param(name, "Not a valid URL")
    return value


def _automatic_capture_only(params: Params, label: str) -> None:
    if get_str(params, "capture_method") not in (None, "automatic", "automatic_async"):
        raise invalid_param(label, "The Stripe emulator supports only automatic capture.")


@route("GET", "/v1/checkout/sessions", "limit starting_after ending_before payment_intent status")
def _session_list(ctx: Context, params: Params, match: re.Match[str]) -> Obj:
    intent, status = get_str(params, "payment_intent"), get_str(params, "status")
    sessions = (
        obj
        for obj in ctx.account.of_kind("checkout.session")
        if (intent is None or obj["payment_intent"] == intent)
        and (status is None or obj["status"] == status)
    )
    return paginate(sessions, params, url="/v1/checkout/sessions")


@route("GET", "/v1/checkout/sessions/<id>")
def _session_retrieve(ctx: Context, params: Params, match: re.Match[str]) -> Obj:
    return ctx.account.get(match["id"], "checkout.session")


@route("POST", "/v1/checkout/sessions/<id>/expire")
def _session_expire(ctx: Context, params: Params, match: re.Match[str]) -> Obj:
    return actions.checkout_session_expire(ctx, ctx.account.get(match["id"], "checkout.session"))


@route("GET", "/v1/checkout/sessions/<id>/line_items", "limit starting_after ending_before")
def _session_line_items(ctx: Context, params: Params, match: re.Match[str]) -> Obj:
    session = ctx.account.get(match["id"], "checkout.session")
    url = f"/v1/checkout/sessions/{session['id']}/line_items"
    # Line items keep the order they were given in, unlike the newest-first object lists.
    return paginate(session["_line_items"], params, url=url)


# -- PaymentIntents -------------------------------------------------------------------------

_PI_CREATE_PARAMS = """
amount amount_details application_fee_amount automatic_payment_methods capture_method confirm currency
confirmation_method confirmation_token customer description error_on_requires_action
excluded_payment_method_types hooks mandate mandate_data metadata off_session on_behalf_of
payment_details payment_method payment_method_configuration payment_method_data
payment_method_options payment_method_types radar_options receipt_email return_url
setup_future_usage shipping statement_descriptor statement_descriptor_suffix transfer_data
transfer_group use_stripe_sdk
"""
_PI_UPDATE_PARAMS = """
amount amount_details application_fee_amount capture_method currency customer description
excluded_payment_method_types hooks metadata payment_details payment_method
payment_method_configuration payment_method_data payment_method_options payment_method_types
receipt_email setup_future_usage shipping statement_descriptor statement_descriptor_suffix
transfer_data transfer_group
"""
_PI_CONFIRM_PARAMS = """
amount_details capture_method client_secret confirmation_token error_on_requires_action hooks
mandate mandate_data off_session payment_details payment_method payment_method_data
payment_method_options payment_method_types radar_options receipt_email return_url
setup_future_usage shipping use_stripe_sdk
"""


@route("POST", "/v1/payment_intents", _PI_CREATE_PARAMS)
def _intent_create(ctx: Context, params: Params, match: re.Match[str]) -> Obj:
    currency = get_currency(params, "currency")
    assert currency is not None
    amount = _amount(params, currency)
    _automatic_capture_only(params, "capture_method")
    automatic = get_dict(params, "automatic_payment_methods")
    enabled = get_bool(automatic, "enabled", label="automatic_payment_methods[enabled]")
    types = [str(kind) for kind in get_list(params, "payment_method_types")]
    if automatic and types:
        raise StripeError(
            "You may only specify one of these parameters: automatic_payment_methods, "
            "payment_method_types."
        )
    if any(kind != "card" for kind in types):
        raise invalid_param("payment_method_types", "The Stripe emulator supports only cards.")
    method = _payment_method(ctx, params)
    customer = get_str(params, "customer")
    if customer is not None:
        ctx.account.get(customer, "customer", "customer")
    intent = actions.payment_intent_create(
        ctx,
        amount=amount,
        currency=currency,
        metadata=get_metadata(params),
        description=get_str(params, "description"),
        receipt_email=_email(params, "receipt_email"),
        payment_method_types=types or ["card"],
        # Recent API versions turn automatic payment methods on unless types are listed.
        automatic_payment_methods=not types and enabled is not False,
    )
    intent["customer"] = customer
    if method is not None:
        intent.update(payment_method=method["id"], status="requires_confirmation")
    if get_bool(params, "confirm"):
        actions.payment_intent_confirm(ctx, intent, method=method)
    return intent


def _amount(params: Params, currency: str) -> int:
    amount = get_int(params, "amount", required=True)
    assert amount is not None
    minimum = money.minimum_amount(currency)
    if amount < minimum:
        raise StripeError(
            f"Amount must be at least {money.format_amount(minimum, currency)}",
            param="amount",
            code="amount_too_small",
        )
    if amount > 99_999_999:
        raise StripeError(
            f"Amount must be no more than {money.format_amount(99_999_999, currency)}",
            param="amount",
            code="amount_too_large",
        )
    return amount


def _payment_method(ctx: Context, params: Params) -> Obj | None:
    """The payment method named by ``payment_method`` (a test token or an existing ``pm_``) or
    described by ``payment_method_data`` (Stripe.js sends the card number that way)."""
    name = get_str(params, "payment_method")
    data = get_dict(params, "payment_method_data")
    if name is not None and data:
        raise StripeError(
            "You may only specify one of these parameters: payment_method, payment_method_data."
        )
    if name is not None:
        if name in cards.TOKENS:
            return actions.payment_method_create(ctx, cards.TOKENS[name])
        return ctx.account.get(name, "payment_method", "payment_method")
    if not data:
        return None
    if get_str(data, "type") is None:
        raise missing_param("payment_method_data[type]")
    if get_str(data, "type") != "card":
        raise invalid_param("payment_method_data[type]", "The Stripe emulator supports only cards.")
    card = get_dict(data, "card", label="payment_method_data[card]")
    number = get_str(card, "number")
    if number is None:
        raise missing_param("payment_method_data[card][number]")
    return actions.payment_method_create(
        ctx, cards.card_for_number(number, "payment_method_data[card][number]")
    )


@route("GET", "/v1/payment_intents", "limit starting_after ending_before customer created")
def _intent_list(ctx: Context, params: Params, match: re.Match[str]) -> Obj:
    return paginate(ctx.account.of_kind("payment_intent"), params, url="/v1/payment_intents")


@route("GET", "/v1/payment_intents/<id>", "client_secret", publishable=True)
def _intent_retrieve(ctx: Context, params: Params, match: re.Match[str]) -> Obj:
    intent = ctx.account.get(match["id"], "payment_intent")
    _check_client_secret(intent, params)
    return intent


def _check_client_secret(intent: Obj, params: Params) -> None:
    secret = get_str(params, "client_secret")
    if secret is not None and secret != intent["client_secret"]:
        raise invalid_param(
            "client_secret",
            "The client_secret provided does not match the client_secret associated with the "
            "PaymentIntent.",
        )


@route("POST", "/v1/payment_intents/<id>", _PI_UPDATE_PARAMS)
def _intent_update(ctx: Context, params: Params, match: re.Match[str]) -> Obj:
    intent = ctx.account.get(match["id"], "payment_intent")
    changes_amount = any(name in params for name in ("amount", "currency"))
    if changes_amount and intent["status"] not in (
        "requires_payment_method",
        "requires_confirmation",
    ):
        raise StripeError(
            f"This PaymentIntent's amount could not be updated because it has a status of "
            f"{intent['status']}.",
            code="payment_intent_unexpected_state",
        )
    if "currency" in params:
        intent["currency"] = get_currency(params, "currency")
    if "amount" in params:
        intent["amount"] = _amount(params, intent["currency"])
    if "description" in params:
        intent["description"] = get_str(params, "description")
    if "receipt_email" in params:
        intent["receipt_email"] = _email(params, "receipt_email")
    if "metadata" in params:
        get_metadata(params)  # validates
        for key, value in get_dict(params, "metadata").items():
            # Updates merge into the metadata; an empty value deletes the key.
            if value == "":
                intent["metadata"].pop(key, None)
            else:
                intent["metadata"][key] = value
    return intent


@route("POST", "/v1/payment_intents/<id>/confirm", _PI_CONFIRM_PARAMS, publishable=True)
def _intent_confirm(ctx: Context, params: Params, match: re.Match[str]) -> Obj:
    intent = ctx.account.get(match["id"], "payment_intent")
    _check_client_secret(intent, params)
    return actions.payment_intent_confirm(
        ctx,
        intent,
        method=_payment_method(ctx, params),
        receipt_email=_email(params, "receipt_email"),
    )


_CANCEL_REASONS = ("duplicate", "fraudulent", "requested_by_customer", "abandoned")


@route("POST", "/v1/payment_intents/<id>/cancel", "cancellation_reason")
def _intent_cancel(ctx: Context, params: Params, match: re.Match[str]) -> Obj:
    intent = ctx.account.get(match["id"], "payment_intent")
    reason = get_str(params, "cancellation_reason")
    if reason is not None and reason not in _CANCEL_REASONS:
        raise invalid_param(
            "cancellation_reason",
            f"Invalid cancellation_reason: must be one of {', '.join(_CANCEL_REASONS)}",
        )
    return actions.payment_intent_cancel(ctx, intent, reason)


@route("GET", "/v1/payment_methods/<id>")
def _method_retrieve(ctx: Context, params: Params, match: re.Match[str]) -> Obj:
    return ctx.account.get(match["id"], "payment_method")


# -- Charges and Refunds --------------------------------------------------------------------


@route("GET", "/v1/charges", "limit starting_after ending_before payment_intent customer created")
def _charge_list(ctx: Context, params: Params, match: re.Match[str]) -> Obj:
    intent = get_str(params, "payment_intent")
    charges = (
        obj
        for obj in ctx.account.of_kind("charge")
        if intent is None or obj["payment_intent"] == intent
    )
    return paginate(charges, params, url="/v1/charges")


@route("GET", "/v1/charges/<id>")
def _charge_retrieve(ctx: Context, params: Params, match: re.Match[str]) -> Obj:
    return ctx.account.get(match["id"], "charge")


_REFUND_PARAMS = """
amount charge currency customer instructions_email metadata origin payment_intent reason
refund_application_fee reverse_transfer
"""
_REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")


@route("POST", "/v1/refunds", _REFUND_PARAMS)
def _refund_create(ctx: Context, params: Params, match: re.Match[str]) -> Obj:
    charge_id, intent_id = get_str(params, "charge"), get_str(params, "payment_intent")
    if charge_id is None and intent_id is None:
        raise StripeError(
            "One of the following params should be provided for this request: "
            "payment_intent or charge."
        )
    if charge_id is not None and intent_id is not None:
        raise StripeError("You may only specify one of these parameters: charge, payment_intent.")
    if intent_id is not None:
        intent = ctx.account.get(intent_id, "payment_intent", "payment_intent")
        if intent["status"] != "succeeded" or intent["latest_charge"] is None:
            raise invalid_param(
                "payment_intent",
                f"This PaymentIntent ({intent_id}) does not have a successful charge to refund.",
            )
        charge_id = intent["latest_charge"]
    assert charge_id is not None
    charge = ctx.account.get(charge_id, "charge", "charge")
    reason = get_str(params, "reason")
    if reason is not None and reason not in _REFUND_REASONS:
        raise invalid_param(
            "reason",
            "Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer",
        )
    return actions.refund_create(
        ctx,
        charge,
        amount=get_int(params, "amount", minimum=1),
        reason=reason,
        metadata=get_metadata(params),
    )


@route("GET", "/v1/refunds", "limit starting_after ending_before charge payment_intent created")
def _refund_list(ctx: Context, params: Params, match: re.Match[str]) -> Obj:
    charge, intent = get_str(params, "charge"), get_str(params, "payment_intent")
    refunds = (
        obj
        for obj in ctx.account.of_kind("refund")
        if (charge is None or obj["charge"] == charge)
        and (intent is None or obj["payment_intent"] == intent)
    )
    return paginate(refunds, params, url="/v1/refunds")


@route("GET", "/v1/refunds/<id>")
def _refund_retrieve(ctx: Context, params: Params, match: re.Match[str]) -> Obj:
    return ctx.account.get(match["id"], "refund")


# -- Events ---------------------------------------------------------------------------------


@route(
    "GET", "/v1/events", "limit starting_after ending_before type types created delivery_success"
)
def _event_list(ctx: Context, params: Params, match: re.Match[str]) -> Obj:
    wanted = [str(t) for t in get_list(params, "types")]
    single = get_str(params, "type")
    if single is not None:
        wanted.append(single)
    events = (obj for obj in ctx.account.of_kind("event") if _type_matches(obj["type"], wanted))
    return paginate(events, params, url="/v1/events")


def _type_matches(event_type: str, wanted: list[str]) -> bool:
    # Stripe's event filters accept a trailing wildcard: ``charge.*``.
    return not wanted or any(
        event_type == pattern or (pattern.endswith("*") and event_type.startswith(pattern[:-1]))
        for pattern in wanted
    )


@route("GET", "/v1/events/<id>")
def _event_retrieve(ctx: Context, params: Params, match: re.Match[str]) -> Obj:
    return ctx.account.get(match["id"], "event")
