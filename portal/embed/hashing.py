"""The embed's security hash: HMAC-SHA256, hex, of what the company's server vouches for.

Two forms, both keyed with the company's embed secret:

- plain: ``HMAC(secret, identifier)``. Simple, but a leaked hash opens that customer's
  invoices for as long as the secret lives.
- expiring: ``HMAC(secret, identifier + "." + expires)`` where ``expires`` is a Unix timestamp
  in seconds passed beside the hash. A leaked hash stops working at ``expires``; a company can
  require this form.

The identifier is hashed exactly as passed (no case folding), UTF-8 encoded. Comparison is
constant-time, and nothing here ever returns or logs the expected value.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Iterable

# A hash valid for longer than this is refused: "expiring" must mean something.
MAX_EXPIRY_HORIZON = dt.timedelta(days=7)
# Bounds the work an anonymous request can cause and what a bad value can be.
MAX_HASH_LENGTH = 128
HASH_HEX_LENGTH = 64


def signed_message(identifier: str, expires: int | None = None) -> str:
    return identifier if expires is None else f"{identifier}.{expires}"


def compute_hash(*, secret: str, identifier: str, expires: int | None = None) -> str:
    """What the company's server computes (the docs show the same in four languages)."""
    message = signed_message(identifier, expires)
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def hash_matches(
    *, secrets: Iterable[str], identifier: str, supplied: str, expires: int | None = None
) -> bool:
    """Whether ``supplied`` is the hash of the identifier (and expiry) under any of the
    ``secrets`` (the current one, and the previous one during its grace period)."""
    candidate = supplied.strip().lower()
    if len(candidate) != HASH_HEX_LENGTH:
        return False
    matched = False
    for secret in secrets:
        expected = compute_hash(secret=secret, identifier=identifier, expires=expires)
        # Every secret is tried even after a match, so timing does not tell which one matched.
        matched |= hmac.compare_digest(expected, candidate)
    return matched
