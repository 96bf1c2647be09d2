"""Standard Webhooks signatures (https://www.standardwebhooks.com/).

The secret is ``whsec_`` + base64 of 24 random bytes; the key is those bytes. Each message is
signed as HMAC-SHA256 over ``"{webhook-id}.{webhook-timestamp}.{body}"`` and sent as
``webhook-signature: v1,<base64>``; during a rotation's overlap both secrets sign, separated by
a space, and a receiver accepts the message when any one of them verifies.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

PREFIX = "whsec_"


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(PREFIX))


def sign(*, secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def headers(*, secrets_: list[str], message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            sign(secret=s, message_id=message_id, timestamp=timestamp, body=body) for s in secrets_
        ),
    }


def verify(
    *, secret: str, headers_: dict[str, str], body: bytes, now: int, tolerance: int = 300
) -> bool:
    """What a receiver does (used by the tests and shown in the README)."""
    message_id, timestamp = headers_["webhook-id"], int(headers_["webhook-timestamp"])
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret=secret, message_id=message_id, timestamp=timestamp, body=body)
    return any(
        hmac.compare_digest(expected, candidate)
        for candidate in headers_["webhook-signature"].split(" ")
    )
