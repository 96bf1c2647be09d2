"""The emulator's state as a whole: accounts, webhook dispatch and settings, plus the context
an operation runs in (which account, which request, which API version)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import objects
from .objects import Obj
from .store import Account, Store
from .webhooks import Dispatcher

# What the installed stripe SDK (16.x) sends when no version is pinned; events raised before an
# account has sent any Stripe-Version header are stamped with it.
DEFAULT_API_VERSION = "2026-10-28.endive"

DEFAULT_SETTINGS: dict[str, Any] = {
    # A PaymentIntent confirmed with the "processing" card succeeds on its own after this long;
    # None leaves it processing until POST /_emulator/payment_intents/<id>/succeed (or /fail).
    "processing_delay_ms": 2000,
}


class Emulator:
    def __init__(self) -> None:
        self.store = Store()
        self.webhooks = Dispatcher()
        self.settings: dict[str, Any] = dict(DEFAULT_SETTINGS)
        self._timers: list[threading.Timer] = []
        self._timers_lock = threading.Lock()

    def reset(self) -> None:
        """Forget every account, object, endpoint, delivery and setting."""
        with self._timers_lock:
            for timer in self._timers:
                timer.cancel()
            self._timers.clear()
        self.store.reset()
        self.webhooks.reset()
        self.settings = dict(DEFAULT_SETTINGS)

    def context(
        self,
        account: Account,
        *,
        base_url: str,
        api_version: str | None = None,
        request_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> Context:
        return Context(
            emulator=self,
            account=account,
            base_url=base_url,
            api_version=api_version or account.api_version or DEFAULT_API_VERSION,
            request_id=request_id,
            idempotency_key=idempotency_key,
        )

    def later(self, delay_ms: int, action: Callable[[], None]) -> None:
        """Run ``action`` on a timer thread (cancelled by ``reset()``)."""
        timer = threading.Timer(delay_ms / 1000, action)
        timer.daemon = True
        with self._timers_lock:
            self._timers = [t for t in self._timers if t.is_alive()]
            self._timers.append(timer)
        timer.start()


@dataclass
class Context:
    """One operation on one account. Operations run holding ``account.lock``."""

    emulator: Emulator
    account: Account
    base_url: str
    api_version: str
    request_id: str | None = None
    idempotency_key: str | None = None
    events: list[Obj] = field(default_factory=list)

    def add(self, obj: Obj) -> Obj:
        return self.emulator.store.add(self.account, obj)

    def emit(self, type: str, obj: Obj, previous_attributes: Obj | None = None) -> Obj:
        """Record an Event holding a snapshot of ``obj`` and queue it for delivery."""
        suffix = self.account.suffix
        event = objects.event(
            type=type,
            obj=objects.public(obj),
            api_version=self.api_version,
            request_id=self.request_id,
            idempotency_key=self.idempotency_key,
            previous_attributes=previous_attributes,
            pending_webhooks=self.emulator.webhooks.count_for(suffix, type),
        )
        self.add(event)
        self.events.append(event)
        self.emulator.webhooks.publish(suffix, event)
        return event
