"""Stripe events as Stripe sends them, for tests and benchmarks that deliver many at once."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from invoices.models import Invoice
from payments.stripe_client import API_VERSION


def paid_checkout_events(invoices: Sequence[Invoice], tag: str) -> list[dict[str, Any]]:
    """Three events per invoice paid through Checkout: the session completed and the
    PaymentIntent succeeded (one payment, told twice) and the charge (a type we ignore).
    Ids are ``evt_<tag>_<n>_<kind>``, ``pi_<tag>_<n>``, ``cs_<tag>_<n>``, ``ch_<tag>_<n>``."""
    made: list[dict[str, Any]] = []
    now = int(time.time())
    for n, invoice in enumerate(invoices):
        intent = f"pi_{tag}_{n}"
        metadata = {"invoice": invoice.public_id}
        objects: list[tuple[str, dict[str, Any]]] = [
            (
                "checkout.session.completed",
                {
                    "id": f"cs_{tag}_{n}",
                    "object": "checkout.session",
                    "payment_status": "paid",
                    "payment_intent": intent,
                    "amount_total": invoice.total,
                    "currency": invoice.currency,
                    "metadata": metadata,
                },
            ),
            (
                "payment_intent.succeeded",
                {
                    "id": intent,
                    "object": "payment_intent",
                    "status": "succeeded",
                    "amount": invoice.total,
                    "amount_received": invoice.total,
                    "currency": invoice.currency,
                    "latest_charge": f"ch_{tag}_{n}",
                    "metadata": metadata,
                },
            ),
            (
                "charge.succeeded",
                {
                    "id": f"ch_{tag}_{n}",
                    "object": "charge",
                    "payment_intent": intent,
                    "amount": invoice.total,
                    "metadata": metadata,
                },
            ),
        ]
        for kind, (event_type, obj) in enumerate(objects):
            made.append(
                {
                    "id": f"evt_{tag}_{n}_{kind}",
                    "object": "event",
                    "api_version": API_VERSION,
                    "type": event_type,
                    "created": now,
                    "livemode": False,
                    "data": {"object": obj},
                }
            )
    return made
