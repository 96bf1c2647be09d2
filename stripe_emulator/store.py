"""Thread-safe in-memory state: one namespace (``Account``) per API key.

Each account's objects, events and idempotency records are guarded by the account's own lock;
an API call holds it for its whole run, so two calls on one account never interleave (Stripe
gives the same guarantee per object) while different accounts run in parallel.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .errors import StripeError, authentication, no_such
from .objects import Obj

_KEY = re.compile(r"(sk|rk|pk)_test_([A-Za-z0-9_]+)")
_OBJECT_NAMES = {
    "cs_": "checkout.session",
    "pi_": "payment_intent",
    "pm_": "payment_method",
    "ch_": "charge",
    "re_": "refund",
    "evt_": "event",
    "cus_": "customer",
    "in_": "invoice",
    "cn_": "credit_note",
}


@dataclass
class IdempotencyRecord:
    endpoint: str  # "POST /v1/payment_intents"
    fingerprint: str  # of the parameters
    status: int
    body: dict[str, Any]


@dataclass
class Account:
    """Everything one secret key can see. ``suffix`` is the part after ``sk_test_``."""

    suffix: str
    lock: threading.RLock = field(default_factory=threading.RLock)
    objects: dict[str, Obj] = field(default_factory=dict)
    idempotency: dict[str, IdempotencyRecord] = field(default_factory=dict)
    # The last Stripe-Version this account sent: events raised outside an API call (a payment on
    # the hosted page) carry it, as Stripe stamps events with the account's API version.
    api_version: str | None = None
    # Running numbers the account hands out (invoice numbers).
    counters: dict[str, int] = field(default_factory=dict)

    @property
    def secret_key(self) -> str:
        return f"sk_test_{self.suffix}"

    def get(self, object_id: str, kind: str, param: str | None = None) -> Obj:
        """The object, or Stripe's "No such ..." (404 for a URL id, 400 for a parameter)."""
        obj = self.objects.get(object_id)
        if obj is None or obj["object"] != kind:
            raise no_such(kind, object_id, param or "id", status=400 if param else 404)
        return obj

    def find(self, object_id: str) -> Obj | None:
        return self.objects.get(object_id)

    def of_kind(self, kind: str) -> Iterator[Obj]:
        """Objects of one kind, newest first (Stripe's list order)."""
        return (obj for obj in reversed(self.objects.values()) if obj["object"] == kind)


class Store:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._accounts: dict[str, Account] = {}
        # Object id -> owning account: the hosted page, publishable-key calls and the control
        # API are addressed by object id alone.
        self._owners: dict[str, Account] = {}
        self._revoked: set[str] = set()

    def reset(self) -> None:
        with self._lock:
            self._accounts.clear()
            self._owners.clear()
            self._revoked.clear()

    def account_for_secret_key(self, key: str | None) -> Account:
        if not key:
            raise authentication(
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                "YOUR_SECRET_KEY')."
            )
        match = _KEY.fullmatch(key)
        if match is None or match.group(1) == "pk":
            raise authentication(f"Invalid API Key provided: {redact(key)}")
        return self._account(match.group(2), key)

    def account_for_publishable_key(self, key: str | None) -> Account:
        match = _KEY.fullmatch(key or "")
        if match is None or match.group(1) != "pk":
            raise authentication(f"Invalid API Key provided: {redact(key or '')}")
        return self._account(match.group(2), key or "")

    def suffix_of(self, key: str) -> str:
        """The account name for a secret key, for the control API (which takes ``api_key``)."""
        match = _KEY.fullmatch(key)
        if match is None or match.group(1) == "pk":
            raise StripeError(f"Invalid API Key: {redact(key)}", param="api_key")
        return match.group(2)

    def revoke(self, suffix: str) -> None:
        with self._lock:
            self._revoked.add(suffix)

    def _account(self, suffix: str, key: str) -> Account:
        with self._lock:
            if suffix in self._revoked:
                raise authentication(
                    f"Expired API Key provided: {redact(key)}", code="api_key_expired"
                )
            account = self._accounts.get(suffix)
            if account is None:
                account = self._accounts[suffix] = Account(suffix)
            return account

    def add(self, account: Account, obj: Obj) -> Obj:
        """Store a new object; the caller holds ``account.lock``."""
        account.objects[obj["id"]] = obj
        with self._lock:
            self._owners[obj["id"]] = account
        return obj

    def owner(self, object_id: str) -> Account:
        with self._lock:
            account = self._owners.get(object_id)
        if account is None:
            kind = next(
                (name for prefix, name in _OBJECT_NAMES.items() if object_id.startswith(prefix)),
                "object",
            )
            raise no_such(kind, object_id)
        return account


def redact(key: str) -> str:
    """Stripe never echoes a full key: ``sk_test_****demo``."""
    prefix = key[:8] if key[:3] in ("sk_", "rk_", "pk_") else ""
    return f"{prefix}****{key[-4:]}" if len(key) > 8 else "****"
