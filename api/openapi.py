"""What the OpenAPI schema says of every route beyond its own body and answer: the error shape
for each refusal it can give, the ``Idempotency-Key`` header on POST, and ``Retry-After`` on 429.
Added once here, so a new route is described like the others without repeating it."""

from __future__ import annotations

import copy
from typing import Any

from api.idempotency import HEADER, MAX_KEY_LENGTH

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "description": "Stable, for programs"},
                "message": {"type": "string", "description": "Safe to show"},
                "field": {
                    "anyOf": [{"type": "string"}, {"type": "null"}],
                    "description": "The input the message is about",
                },
            },
            "required": ["code", "message", "field"],
        }
    },
    "required": ["error"],
}

_ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}

ERRORS: dict[str, str] = {
    "400": "Invalid input: an unknown field, a wrong type or value (`code`: `unknown_field`, "
    "`invalid`, …; `field` names the input)",
    "401": "No valid API key (`Authorization: Bearer <key>`)",
    "404": "No such object for this key's company, or no such route",
    "405": "The route exists but not with this method",
    "409": "The object's state forbids it (`invalid_status`, `duplicate`), or an "
    "`Idempotency-Key` was reused with another request",
    "429": "Too many requests for this key: wait `Retry-After` seconds",
    "500": "Our fault; safe to retry with the same `Idempotency-Key`",
}

INTRO = """
Customers, invoices, share links, payments, views, webhooks and company settings of **one
company**: the one the API key belongs to. Every call sends `Authorization: Bearer <api key>`.

* Objects are named by opaque ids (`cus_…`, `inv_…`, `pay_…`, `we_…`); money is an integer in
  the currency's minor unit (`1250` = 12.50 USD); currencies are lower-case ISO codes.
* Bodies are JSON and strict: an unknown field is a 400.
* Every error is `{"error": {"code", "message", "field"}}` with a 4xx status (5xx if we fail).
* **Idempotency**: send an `Idempotency-Key` header (up to 255 characters) with any POST. The
  same key and body within 24 hours returns the first answer (with `Idempotent-Replayed: true`)
  without doing the work again; the same key with another body answers 409.
* **Rate limits**: per API key; over the limit the answer is 429 with `Retry-After` (seconds).
* **Webhooks**: register an endpoint (`POST /webhook-endpoints`) to receive signed events
  (Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature`).

```python
import base64, hashlib, hmac

def verify(secret: str, headers: dict, body: bytes) -> bool:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(s.partition(",")[2] == expected for s in headers["webhook-signature"].split())
```
"""


def _errors_for(method: str, path: str, has_body: bool, has_params: bool) -> list[str]:
    # 400 on every route: the input validation in front of every view refuses, for instance,
    # a NUL byte in any query string.
    codes = ["400", "401", "405", "429", "500"]
    if "{" in path:
        codes.append("404")
    if method in ("post", "patch", "delete"):
        codes.append("409")
    return sorted(codes)


def complete(schema: dict[str, Any]) -> dict[str, Any]:
    schema = copy.deepcopy(schema)
    components = schema.setdefault("components", {})
    components.setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in ("get", "post", "patch", "put", "delete"):
                continue
            responses = operation.setdefault("responses", {})
            has_body = "requestBody" in operation
            has_params = bool(operation.get("parameters"))
            for code in _errors_for(method, path, has_body, has_params):
                if code in responses:
                    continue
                responses[code] = {"description": ERRORS[code], "content": _ERROR_CONTENT}
                if code == "429":
                    responses[code]["headers"] = {
                        "Retry-After": {
                            "description": "Seconds to wait",
                            "schema": {"type": "integer"},
                        }
                    }
                if code == "405":
                    responses[code]["headers"] = {
                        "Allow": {
                            "description": "The methods allowed",
                            "schema": {"type": "string"},
                        }
                    }
            if method == "post":
                operation.setdefault("parameters", []).append(
                    {
                        "in": "header",
                        "name": HEADER,
                        "required": False,
                        "description": "Makes a retry safe: the same key and body within 24 "
                        "hours returns the first answer; another body answers 409.",
                        "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
                    }
                )
    return schema
