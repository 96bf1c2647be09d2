"""The control API under ``/_emulator/``: not part of Stripe, it drives the emulator in tests.

Bodies and answers are JSON. Errors: ``{"error": {"message": ..., "param": ...}}`` with 400
(bad input) or 404 (unknown id).

``GET  /_emulator/health``                          -> ``{"ok": true}``
``POST /_emulator/reset``                           forget all state
``POST /_emulator/webhook_endpoints``               ``{"api_key", "url", "secret"?,
                                                    "enabled_events"?, "options"?}`` -> 201 endpoint
``GET  /_emulator/webhook_endpoints``               ``{"data": [endpoint, ...]}``
``DELETE /_emulator/webhook_endpoints/<we_id>``     -> ``{"deleted": true}``
``POST /_emulator/webhook_endpoints/<we_id>/options``  delivery options for one endpoint
``GET|POST /_emulator/delivery_options``            delivery options for every endpoint
``POST /_emulator/flush``                           ``{"api_key"?, "endpoint_id"?}`` -> ``{"released": n}``
``POST /_emulator/events/<evt_id>/resend``          ``{"endpoint_id"?}`` -> ``{"queued": n}``
``GET  /_emulator/deliveries?api_key=&event_id=&endpoint_id=``  -> ``{"data": [delivery, ...]}``
``POST /_emulator/wait_idle``                       ``{"timeout"?: 5}`` -> ``{"idle", "pending", "held"}``
``POST /_emulator/payment_intents/<pi_id>/succeed`` settle a processing payment (or ``/fail``)
``GET|POST /_emulator/settings``                    ``{"processing_delay_ms": int | null}``
``POST /_emulator/accounts/revoke``                 ``{"api_key"}``: the key then gets 401
``POST /_emulator/subscriptions/<sub_id>/cycle``    the next period's invoice, finalized
``POST /_emulator/billing/invoices``                ``{"api_key", "invoices": [spec, ...]}``: many
                                                    invoices at once (billing.seed_invoices)
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from . import actions, billing
from .core import Emulator
from .errors import StripeError
from .objects import public
from .wire import Request, Response, json_response

Body = dict[str, Any]
Handler = Callable[[Emulator, Request, Body, "re.Match[str]"], tuple[int, Any]]

_ROUTES: list[tuple[str, re.Pattern[str], Handler]] = []


def _route(method: str, path: str) -> Callable[[Handler], Handler]:
    pattern = re.compile("/_emulator" + re.sub(r"<(\w+)>", r"(?P<\1>[A-Za-z0-9_]+)", path))

    def register(handler: Handler) -> Handler:
        _ROUTES.append((method, pattern, handler))
        return handler

    return register


def handle(emulator: Emulator, request: Request) -> Response:
    try:
        body = _json_body(request)
        for method, pattern, handler in _ROUTES:
            match = pattern.fullmatch(request.path)
            if match is not None and method == request.method:
                status, data = handler(emulator, request, body, match)
                return json_response(status, data)
        raise StripeError(f"No control endpoint {request.method} {request.path}", status=404)
    except StripeError as exc:
        error = {"message": exc.message, "param": exc.param}
        return json_response(exc.status, {"error": error})


def _json_body(request: Request) -> Body:
    if not request.body.strip():
        return {}
    try:
        body = json.loads(request.body)
    except ValueError as exc:
        raise StripeError(f"The body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise StripeError("The body must be a JSON object")
    return body


def _fields(body: Body, allowed: str) -> None:
    unknown = set(body) - set(allowed.split())
    if unknown:
        raise StripeError(f"Unknown field(s): {', '.join(sorted(unknown))}", param=min(unknown))


def _string(body: Body, name: str, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise StripeError(f"Missing field: {name}", param=name)
        return None
    if not isinstance(value, str):
        raise StripeError(f"{name} must be a string", param=name)
    return value


def _account(emulator: Emulator, body: Body, *, required: bool) -> str | None:
    key = _string(body, "api_key", required=required)
    return None if key is None else emulator.store.suffix_of(key)


@_route("GET", "/health")
def _health(
    emulator: Emulator, request: Request, body: Body, match: re.Match[str]
) -> tuple[int, Any]:
    return 200, {"ok": True}


@_route("POST", "/reset")
def _reset(
    emulator: Emulator, request: Request, body: Body, match: re.Match[str]
) -> tuple[int, Any]:
    emulator.reset()
    return 200, {"ok": True}


@_route("POST", "/webhook_endpoints")
def _endpoint_create(
    emulator: Emulator, request: Request, body: Body, match: re.Match[str]
) -> tuple[int, Any]:
    _fields(body, "api_key url secret enabled_events options")
    events = body.get("enabled_events")
    if events is not None and not (
        isinstance(events, list) and all(isinstance(e, str) for e in events)
    ):
        raise StripeError("enabled_events must be a list of strings", param="enabled_events")
    options = body.get("options") or {}
    if not isinstance(options, dict):
        raise StripeError("options must be an object", param="options")
    account = _account(emulator, body, required=True)
    assert account is not None
    endpoint = emulator.webhooks.register(
        account=account,
        url=_string(body, "url", required=True) or "",
        secret=_string(body, "secret"),
        enabled_events=events,
        options=options,
    )
    return 201, endpoint.public()


@_route("GET", "/webhook_endpoints")
def _endpoint_list(
    emulator: Emulator, request: Request, body: Body, match: re.Match[str]
) -> tuple[int, Any]:
    return 200, {"data": [endpoint.public() for endpoint in emulator.webhooks.endpoints()]}


@_route("DELETE", "/webhook_endpoints/<id>")
def _endpoint_delete(
    emulator: Emulator, request: Request, body: Body, match: re.Match[str]
) -> tuple[int, Any]:
    emulator.webhooks.unregister(match["id"])
    return 200, {"id": match["id"], "deleted": True}


@_route("POST", "/webhook_endpoints/<id>/options")
def _endpoint_options(
    emulator: Emulator, request: Request, body: Body, match: re.Match[str]
) -> tuple[int, Any]:
    return 200, {"options": emulator.webhooks.set_options(match["id"], body)}


@_route("GET", "/delivery_options")
def _global_options_get(
    emulator: Emulator, request: Request, body: Body, match: re.Match[str]
) -> tuple[int, Any]:
    return 200, {"options": emulator.webhooks.global_options()}


@_route("POST", "/delivery_options")
def _global_options_set(
    emulator: Emulator, request: Request, body: Body, match: re.Match[str]
) -> tuple[int, Any]:
    emulator.webhooks.set_options(None, body)
    return 200, {"options": emulator.webhooks.global_options()}


@_route("POST", "/flush")
def _flush(
    emulator: Emulator, request: Request, body: Body, match: re.Match[str]
) -> tuple[int, Any]:
    _fields(body, "api_key endpoint_id")
    released = emulator.webhooks.flush(
        account=_account(emulator, body, required=False),
        endpoint_id=_string(body, "endpoint_id"),
    )
    return 200, {"released": released}


@_route("POST", "/events/<id>/resend")
def _resend(
    emulator: Emulator, request: Request, body: Body, match: re.Match[str]
) -> tuple[int, Any]:
    _fields(body, "endpoint_id")
    account = emulator.store.owner(match["id"])
    with account.lock:
        event = public(account.get(match["id"], "event"))
    queued = emulator.webhooks.resend(account.suffix, event, _string(body, "endpoint_id"))
    return 200, {"queued": queued}


@_route("GET", "/deliveries")
def _deliveries(
    emulator: Emulator, request: Request, body: Body, match: re.Match[str]
) -> tuple[int, Any]:
    query = {key: values[-1] for key, values in parse_qs(request.query).items()}
    account = _account(emulator, query, required=False)
    data = emulator.webhooks.deliveries(
        account=account, event_id=query.get("event_id"), endpoint_id=query.get("endpoint_id")
    )
    return 200, {"data": data}


@_route("POST", "/wait_idle")
def _wait_idle(
    emulator: Emulator, request: Request, body: Body, match: re.Match[str]
) -> tuple[int, Any]:
    _fields(body, "timeout")
    timeout = body.get("timeout", 5)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 <= timeout <= 60:
        raise StripeError("timeout must be a number of seconds from 0 to 60", param="timeout")
    idle = emulator.webhooks.wait_idle(float(timeout))
    return 200, {
        "idle": idle,
        "pending": emulator.webhooks.pending(),
        "held": emulator.webhooks.held(),
    }


@_route("POST", "/payment_intents/<id>/<outcome>")
def _settle(
    emulator: Emulator, request: Request, body: Body, match: re.Match[str]
) -> tuple[int, Any]:
    if match["outcome"] not in ("succeed", "fail"):
        raise StripeError(f"No control endpoint {request.method} {request.path}", status=404)
    account = emulator.store.owner(match["id"])
    with account.lock:
        ctx = emulator.context(account, base_url=request.base_url)
        intent = account.get(match["id"], "payment_intent")
        actions.payment_intent_settle(ctx, intent, match["outcome"] == "succeed")
        return 200, public(intent)


@_route("GET", "/settings")
def _settings_get(
    emulator: Emulator, request: Request, body: Body, match: re.Match[str]
) -> tuple[int, Any]:
    return 200, emulator.settings


@_route("POST", "/settings")
def _settings_set(
    emulator: Emulator, request: Request, body: Body, match: re.Match[str]
) -> tuple[int, Any]:
    _fields(body, "processing_delay_ms")
    if "processing_delay_ms" in body:
        delay = body["processing_delay_ms"]
        if delay is not None and (
            isinstance(delay, bool) or not isinstance(delay, int) or delay < 0
        ):
            raise StripeError(
                "processing_delay_ms must be a non-negative integer or null",
                param="processing_delay_ms",
            )
        emulator.settings["processing_delay_ms"] = delay
    return 200, emulator.settings


@_route("POST", "/accounts/revoke")
def _revoke(
    emulator: Emulator, request: Request, body: Body, match: re.Match[str]
) -> tuple[int, Any]:
    _fields(body, "api_key")
    account = _account(emulator, body, required=True)
    assert account is not None
    emulator.store.revoke(account)
    return 200, {"revoked": True}


@_route("POST", "/subscriptions/<id>/cycle")
def _subscription_cycle(
    emulator: Emulator, request: Request, body: Body, match: re.Match[str]
) -> tuple[int, Any]:
    account = emulator.store.owner(match["id"])
    with account.lock:
        ctx = emulator.context(account, base_url=request.base_url)
        subscription = account.get(match["id"], "subscription")
        invoice = billing.subscription_invoice(ctx, subscription, "subscription_cycle")
        return 200, public(invoice)


@_route("POST", "/billing/invoices")
def _invoices_seed(
    emulator: Emulator, request: Request, body: Body, match: re.Match[str]
) -> tuple[int, Any]:
    _fields(body, "api_key invoices")
    specs = body.get("invoices")
    if not isinstance(specs, list) or not all(isinstance(spec, dict) for spec in specs):
        raise StripeError("invoices must be a list of objects", param="invoices")
    suffix = _account(emulator, body, required=True)
    assert suffix is not None
    account = emulator.store.account_for_secret_key(f"sk_test_{suffix}")
    with account.lock:
        ctx = emulator.context(account, base_url=request.base_url)
        try:
            ids = billing.seed_invoices(ctx, specs)
        except (KeyError, TypeError, ValueError) as exc:
            raise StripeError(f"Invalid invoice spec: {exc}", param="invoices") from exc
    return 201, {"data": ids}
