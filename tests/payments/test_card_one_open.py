"""No over-collection by card: an invoice keeps at most one open payment, Checkout Session or
card PaymentIntent. The same amount reuses the open intent; another amount, or paying through
Checkout instead, cancels it in Stripe (so it can no longer be confirmed); voiding cancels it;
and parallel starts on PostgreSQL leave at most one intent that can still take money."""

from __future__ import annotations

from typing import Any

import pytest
import stripe
from django.db import connection

from invoices.models import AuditEvent, Company, Invoice
from payments import services
from payments.models import (
    AttemptKind,
    AttemptStatus,
    CheckoutAttempt,
    StripeConnection,
    WebhookEvent,
)
from payments.webhooks import webhook_event_process
from stripe_emulator.server import EmulatorServer
from tests.concurrency import in_threads
from tests.factories import make_invoice
from tests.payments.conftest import SECRET_KEY, WEBHOOK_SECRET, confirm_with_test_card

RETURN = "http://testserver/invoice/x"


def _intents(emulator: EmulatorServer, status: str | None = None) -> list[dict[str, Any]]:
    account = emulator.emulator.store.account_for_secret_key(SECRET_KEY)
    return [i for i in account.of_kind("payment_intent") if status is None or i["status"] == status]


def _confirmable(emulator: EmulatorServer) -> list[str]:
    # Created from our card form (not by Checkout) and still able to take a card.
    return [
        i["id"]
        for i in _intents(emulator)
        if not i.get("_checkout_session")
        and i["status"] in ("requires_payment_method", "requires_confirmation")
    ]


def _open_sessions(emulator: EmulatorServer) -> list[dict[str, Any]]:
    account = emulator.emulator.store.account_for_secret_key(SECRET_KEY)
    return [s for s in account.of_kind("checkout.session") if s["status"] == "open"]


def _card(invoice: Invoice, amount: int) -> CheckoutAttempt:
    return services.card_intent_start(invoice=invoice, amount=amount)[0]


@pytest.mark.django_db
def test_the_same_amount_reuses_the_open_intent(
    tenant: Company, connected: StripeConnection, emulator: EmulatorServer
) -> None:
    invoice = make_invoice(tenant, lines=[("Work", "1", 10000, "0")])
    first, second = _card(invoice, 10000), _card(invoice, 10000)
    assert first.pk == second.pk and first.provider_id == second.provider_id
    assert _confirmable(emulator) == [first.provider_id]


@pytest.mark.django_db
def test_another_amount_cancels_the_open_intent_in_stripe(
    tenant: Company, connected: StripeConnection, emulator: EmulatorServer
) -> None:
    invoice = make_invoice(tenant, lines=[("Work", "1", 10000, "0")], allow_partial_payments=True)
    old = _card(invoice, 4000)
    new = _card(invoice, 6000)
    assert _confirmable(emulator) == [new.provider_id]
    old.refresh_from_db()
    assert old.status == AttemptStatus.EXPIRED
    assert [i["id"] for i in _intents(emulator, "canceled")] == [old.provider_id]
    # The browser still holding the old intent cannot pay it any more.
    with pytest.raises(stripe.InvalidRequestError, match="status of canceled"):
        confirm_with_test_card(emulator.base_url, old.provider_id)
    assert CheckoutAttempt.objects.filter(status=AttemptStatus.OPEN).count() == 1


@pytest.mark.django_db
def test_paying_the_other_way_closes_the_open_attempt(
    tenant: Company, connected: StripeConnection, emulator: EmulatorServer
) -> None:
    invoice = make_invoice(tenant, lines=[("Work", "1", 10000, "0")])
    card = _card(invoice, 10000)
    session = services.checkout_session_start(invoice=invoice, amount=10000, return_base_url=RETURN)
    assert _confirmable(emulator) == []
    assert [s["id"] for s in _open_sessions(emulator)] == [session.provider_id]
    # And back: the card form expires the Checkout Session.
    again = _card(invoice, 10000)
    assert again.pk != card.pk
    assert _open_sessions(emulator) == []
    assert _confirmable(emulator) == [again.provider_id]
    assert list(
        CheckoutAttempt.objects.filter(status=AttemptStatus.OPEN).values_list("kind", flat=True)
    ) == [AttemptKind.CARD]


@pytest.mark.django_db
def test_voiding_cancels_the_open_intent(
    tenant: Company, connected: StripeConnection, emulator: EmulatorServer, api_client: Any
) -> None:
    invoice = make_invoice(tenant, lines=[("Work", "1", 10000, "0")])
    attempt = _card(invoice, 10000)
    assert api_client.post(f"/api/v1/invoices/{invoice.public_id}/void").status_code == 200
    assert _confirmable(emulator) == []
    event = AuditEvent.objects.get(action="checkout.sessions_expired")
    assert event.data["intents"] == [attempt.provider_id]


@pytest.mark.django_db
def test_the_canceled_event_closes_the_attempt(
    tenant: Company, connected: StripeConnection, emulator: EmulatorServer
) -> None:
    invoice = make_invoice(tenant, lines=[("Work", "1", 10000, "0")])
    attempt = _card(invoice, 10000)
    row = WebhookEvent.objects.create(
        connection=connected,
        event_id="evt_canceled",
        type="payment_intent.canceled",
        payload={"data": {"object": {"id": attempt.provider_id, "status": "canceled"}}},
    )
    assert webhook_event_process(event_pk=row.pk) == "processed"
    attempt.refresh_from_db()
    assert attempt.status == AttemptStatus.EXPIRED


# On PostgreSQL, with real row locks and threads ------------------------------------------


@pytest.mark.parametrize("amounts", ["same", "different", "mixed"])
@pytest.mark.postgres_only
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks")
@pytest.mark.django_db(transaction=True)
def test_ten_parallel_card_starts_leave_at_most_one_confirmable_intent(
    tenant: Company, emulator: EmulatorServer, amounts: str
) -> None:
    services.stripe_connection_save(
        company=tenant, secret_key=SECRET_KEY, webhook_secret=WEBHOOK_SECRET
    )
    invoice = make_invoice(tenant, lines=[("Work", "1", 10000, "0")], allow_partial_payments=True)
    wanted = [10000] * 10 if amounts == "same" else [1000 * (i + 1) for i in range(10)]

    def start(index: int, amount: int) -> CheckoutAttempt:
        if amounts == "mixed" and index % 2:
            return services.checkout_session_start(
                invoice=invoice, amount=amount, return_base_url=RETURN
            )
        return _card(invoice, amount)

    results = in_threads(*(lambda i=i, a=a: start(i, a) for i, a in enumerate(wanted)))
    unexpected = [
        r
        for r in results
        if isinstance(r, Exception)
        and not (isinstance(r, services.PaymentRefused) and r.code == "superseded")
    ]
    assert not unexpected, unexpected
    # Never two open ways to pay: one intent or one session in Stripe, one open attempt here.
    assert len(_confirmable(emulator)) + len(_open_sessions(emulator)) <= 1
    assert CheckoutAttempt.objects.filter(status=AttemptStatus.OPEN).count() <= 1
    if amounts == "same":
        assert len({r.provider_id for r in results}) == 1
        assert len(_confirmable(emulator)) == 1
