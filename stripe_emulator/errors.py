"""Errors in Stripe's wire shape, so the real SDK raises its own exception classes.

The SDK picks the exception class from the HTTP status and ``error.type`` (see
``stripe/_api_requestor.py``): 400/404 -> ``InvalidRequestError`` (or ``IdempotencyError``
when ``type == "idempotency_error"``), 401 -> ``AuthenticationError``, 402 -> ``CardError``.
"""

from __future__ import annotations

from typing import Any


class StripeError(Exception):
    """An API error; ``body()`` is exactly what Stripe puts on the wire."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.type = type
        self.param = param
        self.code = code
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.param is not None:
            error["param"] = self.param
        if self.code is not None:
            error["code"] = self.code
        error.update(self.extra)
        return {"error": error}


def missing_param(param: str) -> StripeError:
    return StripeError(f"Missing required param: {param}.", param=param, code="parameter_missing")


def invalid_param(param: str, message: str) -> StripeError:
    return StripeError(message, param=param, code="parameter_invalid")


def no_such(kind: str, object_id: str, param: str = "id", *, status: int = 404) -> StripeError:
    # An unknown (or another account's) id: 404 in the URL, 400 when named by a parameter.
    return StripeError(
        f"No such {kind}: '{object_id}'", status=status, param=param, code="resource_missing"
    )


def unexpected_state(message: str) -> StripeError:
    return StripeError(message, code="payment_intent_unexpected_state")


def authentication(message: str, code: str | None = None) -> StripeError:
    return StripeError(message, status=401, code=code)
