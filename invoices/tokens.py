"""No-login tokens that a copy of the database cannot forge.

A token is ``<selector><mac>``: the selector is 128 random bits (hex) stored in the database;
the MAC is an HMAC-SHA256 of the selector under a key derived from ``SECRET_KEY`` and a
per-purpose salt (truncated to 128 bits, base64url). The database holds only selectors, so a
dump opens nothing, yet the same link can be shown again by recomputing the MAC. The MAC is
checked in constant time *before* any database lookup, so a forged or near-miss token costs no
query and looks exactly like an unknown one. Rotating ``SECRET_KEY`` invalidates every token.
"""

from __future__ import annotations

import base64
import re
import secrets

from django.utils.crypto import constant_time_compare, salted_hmac

# The purpose of invoice and portal share-link tokens (keys their MAC apart from other tokens).
SHARE_LINK_PURPOSE = "share-link"
SELECTOR_HEX_LENGTH = 32  # 16 bytes = 128 bits from `secrets`
_MAC_BYTES = 16
_MAC_LENGTH = 22  # base64url of 16 bytes, unpadded
TOKEN_LENGTH = SELECTOR_HEX_LENGTH + _MAC_LENGTH
_SELECTOR_RE = re.compile(r"^[0-9a-f]{32}$")


def new_selector() -> str:
    return secrets.token_hex(SELECTOR_HEX_LENGTH // 2)


def _mac(selector: str, *, purpose: str) -> str:
    digest = salted_hmac(f"invoice-portal.token.{purpose}", selector, algorithm="sha256").digest()
    return base64.urlsafe_b64encode(digest[:_MAC_BYTES]).rstrip(b"=").decode("ascii")


def make_token(selector: str, *, purpose: str) -> str:
    return selector + _mac(selector, purpose=purpose)


def parse_token(token: str, *, purpose: str) -> str | None:
    """The selector of a genuine token of this purpose, or None for anything else."""
    if not isinstance(token, str) or len(token) != TOKEN_LENGTH:
        return None
    selector, mac = token[:SELECTOR_HEX_LENGTH], token[SELECTOR_HEX_LENGTH:]
    if not _SELECTOR_RE.match(selector):
        return None
    if not constant_time_compare(mac, _mac(selector, purpose=purpose)):
        return None
    return selector
