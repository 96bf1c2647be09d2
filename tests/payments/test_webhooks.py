"""Webhooks: signature checks, storing each event once, processing through the dispatch
table, refunds, and the periodic pick-up of events that were stored but never processed."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from django.utils import timezone

from invoices.models import Company, InvoiceStatus
from payments import services
from payments.models import Payment, StripeConnection, WebhookEvent, WebhookEventStatus
from payments.stripe_client import API_VERSION
from payments.tasks import webhook_events_retry_task
from stripe_emulator.server import EmulatorServer
from tests.factories import make_invoice, share_token
from tests.payments.conftest import (
    SECRET_KEY,
    confirm_with_test_card,
    emulator_events,
    signed_post,
)
from tests.stripe_events import paid_checkout_events


def _paid_card_events(invoice: Any, emulator: EmulatorServer, amount: int) -> list[dict[str, Any]]:
    """A real card payment on the emulator (as Stripe.js would confirm it); its events."""
    attempt, _secret = services.card_intent_start(invoice=invoice, amount=amount)
    confirm_with_test_card(emulator.base_url, attempt.provider_id)
    return emulator_events(emulator.base_url)


def _event(event_type: str, obj: dict[str, Any], event_id: str = "evt_test_1") -> dict[str, Any]:
    return {
        "id": event_id,
        "object": "event",
        "api_version": API_VERSION,
        "type": event_type,
        "created": int(time.time()),
        "data": {"object": obj},
    }


def test_it_refuses_an_event_of_another_api_version(
    client: Any, connected: StripeConnection, caplog: Any
) -> None:
    event = {**_event("payment_intent.succeeded", {"id": "pi_x"}), "api_version": "2020-08-27"}
    response = signed_post(client, connected.webhook_key, event)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "wrong_api_version"
    assert not WebhookEvent.objects.exists()
    assert "webhook.wrong_api_version" in caplog.text
    unversioned = {key: value for key, value in _event("charge.refunded", {}).items()}
    del unversioned["api_version"]
    assert signed_post(client, connected.webhook_key, unversioned).status_code == 400


def test_its_answers_carry_no_content_security_policy(
    client: Any, connected: StripeConnection
) -> None:
    # Stripe reads the answer, never a browser; the customer pages keep theirs.
    accepted = signed_post(client, connected.webhook_key, _event("charge.succeeded", {}))
    refused = signed_post(
        client, connected.webhook_key, _event("charge.succeeded", {}), secret="whsec_forged"
    )
    assert (accepted.status_code, refused.status_code) == (200, 400)
    assert "Content-Security-Policy" not in accepted and "Content-Security-Policy" not in refused
    page = client.get(f"/invoice/{share_token(make_invoice(connected.company))}")
    assert "Content-Security-Policy" in page


def test_it_refuses_a_forged_signature(client: Any, connected: StripeConnection) -> None:
    event = _event("payment_intent.succeeded", {"id": "pi_x"})
    response = signed_post(client, connected.webhook_key, event, secret="whsec_forged")
    assert response.status_code == 400
    assert WebhookEvent.objects.count() == 0


def test_it_refuses_a_stale_signature(client: Any, connected: StripeConnection) -> None:
    event = _event("payment_intent.succeeded", {"id": "pi_x"})
    response = signed_post(client, connected.webhook_key, event, timestamp=int(time.time()) - 3600)
    assert response.status_code == 400
    assert WebhookEvent.objects.count() == 0


def test_it_refuses_a_signature_dated_in_the_future(
    client: Any, connected: StripeConnection
) -> None:
    event = _event("charge.refunded", {})
    ahead = signed_post(client, connected.webhook_key, event, timestamp=int(time.time()) + 3600)
    assert ahead.status_code == 400
    assert not WebhookEvent.objects.exists()
    # A few seconds of clock skew is tolerated.
    skewed = signed_post(client, connected.webhook_key, event, timestamp=int(time.time()) + 20)
    assert skewed.status_code == 200


def test_it_refuses_a_missing_signature(client: Any, connected: StripeConnection) -> None:
    response = client.post(
        f"/webhooks/stripe/{connected.webhook_key}", data=b"{}", content_type="application/json"
    )
    assert response.status_code == 400


def test_it_refuses_a_payload_changed_after_signing(
    client: Any, connected: StripeConnection
) -> None:
    from stripe_emulator.webhooks import sign

    signature = sign(b'{"id": "evt_1"}', "whsec_tenant_secret", int(time.time()))
    response = client.post(
        f"/webhooks/stripe/{connected.webhook_key}",
        data=b'{"id": "evt_2"}',
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signature,
    )
    assert response.status_code == 400


def test_it_answers_404_for_an_unknown_webhook_key(
    client: Any, connected: StripeConnection
) -> None:
    response = signed_post(client, "wh_unknown", _event("charge.refunded", {}))
    assert response.status_code == 404


def test_it_checks_the_secret_of_the_company_in_the_url(
    client: Any, connected: StripeConnection, other_tenant: Company
) -> None:
    other = services.stripe_connection_save(
        company=other_tenant, secret_key="sk_test_other", webhook_secret="whsec_other"
    )
    # Signed with tenant's secret, sent to the other company's URL.
    response = signed_post(client, other.webhook_key, _event("charge.refunded", {}))
    assert response.status_code == 400


def test_it_records_a_card_payment_from_the_webhook_once(
    deliver: Any,
    client: Any,
    tenant: Company,
    connected: StripeConnection,
    emulator: EmulatorServer,
) -> None:
    invoice = make_invoice(tenant, lines=[("Work", "1", 5000, "0")])
    events = _paid_card_events(invoice, emulator, 5000)
    assert "payment_intent.succeeded" in [e["type"] for e in events]
    for _round in range(3):
        for event in events:
            assert deliver(event).status_code == 200
    assert WebhookEvent.objects.count() == len(events)
    payment = Payment.objects.get()
    assert (payment.amount, payment.method, payment.source) == (5000, "card", "webhook")
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.PAID, 5000)
    statuses = set(WebhookEvent.objects.values_list("status", flat=True))
    assert statuses <= {WebhookEventStatus.PROCESSED, WebhookEventStatus.IGNORED}


def test_it_answers_a_duplicate_delivery_with_200_and_stores_it_once(
    deliver: Any, client: Any, connected: StripeConnection
) -> None:
    event = _event("balance.available", {"object": "balance"})
    first = deliver(event)
    second = deliver(event)
    assert (first.status_code, second.status_code) == (200, 200)
    assert (first.json()["duplicate"], second.json()["duplicate"]) == (False, True)
    stored = WebhookEvent.objects.get()
    assert stored.status == WebhookEventStatus.IGNORED


def test_it_records_the_error_of_a_failing_handler(
    deliver: Any, client: Any, connected: StripeConnection
) -> None:
    intent = {
        "id": "pi_unknown",
        "object": "payment_intent",
        "status": "succeeded",
        "amount": 1000,
        "amount_received": 1000,
        "currency": "usd",
        "metadata": {"invoice": "inv_does_not_exist"},
    }
    response = deliver(_event("payment_intent.succeeded", intent))
    assert response.status_code == 200
    stored = WebhookEvent.objects.get()
    assert stored.status == WebhookEventStatus.FAILED
    assert "DoesNotExist" in stored.error
    assert stored.attempts == 1


def test_it_processes_events_stored_while_the_worker_was_down(
    tenant: Company, connected: StripeConnection, emulator: EmulatorServer
) -> None:
    invoice = make_invoice(tenant, lines=[("Work", "1", 5000, "0")])
    events = _paid_card_events(invoice, emulator, 5000)
    succeeded = next(e for e in events if e["type"] == "payment_intent.succeeded")
    # What the webhook view leaves behind when the broker is unreachable: a stored row that
    # no task was queued for.
    WebhookEvent.objects.create(
        connection=connected,
        event_id=succeeded["id"],
        type=succeeded["type"],
        payload=succeeded,
    )
    WebhookEvent.objects.update(received_at=timezone.now() - dt.timedelta(minutes=5))
    assert Payment.objects.count() == 0
    assert webhook_events_retry_task() == 1
    assert Payment.objects.count() == 1
    assert WebhookEvent.objects.get().status == WebhookEventStatus.PROCESSED
    # Done events are not picked up again.
    assert webhook_events_retry_task() == 0


def test_it_records_a_refund_and_an_open_invoice_owes_it_again(
    deliver: Any,
    client: Any,
    tenant: Company,
    connected: StripeConnection,
    emulator: EmulatorServer,
) -> None:
    invoice = make_invoice(tenant, lines=[("Work", "1", 10000, "0")], allow_partial_payments=True)
    for event in _paid_card_events(invoice, emulator, 4000):
        deliver(event)
    payment = Payment.objects.get()
    services.payment_refund(payment=payment, amount=1500)
    new_events = [e for e in emulator_events(emulator.base_url) if e["type"] == "charge.refunded"]
    assert len(new_events) == 1
    deliver(new_events[0])
    deliver({**new_events[0], "id": "evt_replayed_copy"})
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert (payment.amount_refunded, payment.status) == (1500, "partially_refunded")
    assert invoice.amount_paid == 2500


def test_it_marks_a_card_attempt_failed_but_retryable_on_a_decline(
    deliver: Any,
    client: Any,
    tenant: Company,
    connected: StripeConnection,
    emulator: EmulatorServer,
) -> None:
    invoice = make_invoice(tenant)
    attempt, _secret = services.card_intent_start(invoice=invoice, amount=1000)
    confirm_with_test_card(emulator.base_url, attempt.provider_id, "pm_card_chargeDeclined")
    for event in emulator_events(emulator.base_url):
        deliver(event)
    attempt.refresh_from_db()
    assert attempt.status == "open"
    assert "declined" in attempt.error
    assert Payment.objects.count() == 0


def test_it_uses_the_secret_key_of_the_company(
    tenant: Company, connected: StripeConnection, emulator: EmulatorServer
) -> None:
    invoice = make_invoice(tenant)
    attempt, _secret = services.card_intent_start(invoice=invoice, amount=1000)
    # The intent exists in the emulator account of the tenant's key, nowhere else.
    import stripe

    stripe_client = stripe.StripeClient(SECRET_KEY, base_addresses={"api": emulator.base_url})
    intent = stripe_client.v1.payment_intents.retrieve(attempt.provider_id)
    assert intent.metadata["invoice"] == invoice.public_id


def test_it_stores_an_event_once_per_company_not_once_overall(
    deliver: Any,
    client: Any,
    connected: StripeConnection,
    other_tenant: Company,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # Two companies connected to one Stripe account: Stripe sends the same event (same id) to
    # both endpoints, each signed with that endpoint's secret. The copy that reaches the
    # other company's endpoint second must not be taken for a duplicate and dropped.
    other = services.stripe_connection_save(
        company=other_tenant, secret_key="sk_test_other", webhook_secret="whsec_other"
    )
    invoice = make_invoice(other_tenant, lines=[("Work", "1", 1000, "0")])
    intent = {
        "id": "pi_shared_account",
        "object": "payment_intent",
        "status": "succeeded",
        "amount": 1000,
        "amount_received": 1000,
        "currency": "usd",
        "metadata": {"invoice": invoice.public_id},
    }
    event = _event("payment_intent.succeeded", intent, event_id="evt_shared_account")
    assert deliver(event).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_post(client, other.webhook_key, event, secret="whsec_other")
    assert (response.status_code, response.json()["duplicate"]) == (200, False)
    assert WebhookEvent.objects.filter(event_id="evt_shared_account").count() == 2
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.PAID, 1000)
    assert Payment.objects.get().invoice_id == invoice.pk


def test_it_applies_a_refund_that_arrives_before_its_payment(
    deliver: Any,
    client: Any,
    tenant: Company,
    connected: StripeConnection,
    emulator: EmulatorServer,
) -> None:
    import stripe

    invoice = make_invoice(tenant, lines=[("Work", "1", 10000, "0")], allow_partial_payments=True)
    payment_events = _paid_card_events(invoice, emulator, 4000)
    intent_id = next(
        e["data"]["object"]["id"] for e in payment_events if e["type"] == "payment_intent.succeeded"
    )
    # A refund made on Stripe's dashboard right away; its event is delivered first.
    stripe.StripeClient(SECRET_KEY, base_addresses={"api": emulator.base_url}).v1.refunds.create(
        params={"payment_intent": intent_id, "amount": 1500}
    )
    [refunded] = [e for e in emulator_events(emulator.base_url) if e["type"] == "charge.refunded"]
    assert deliver(refunded).status_code == 200
    for event in payment_events:
        deliver(event)
    # The periodic task tries the refund again once the payment is there: not lost.
    WebhookEvent.objects.update(processed_at=timezone.now() - dt.timedelta(minutes=5))
    webhook_events_retry_task()
    payment = Payment.objects.get()
    invoice.refresh_from_db()
    assert (payment.amount_refunded, payment.status) == (1500, "partially_refunded")
    assert invoice.amount_paid == 2500
    assert WebhookEvent.objects.get(event_id=refunded["id"]).status == WebhookEventStatus.PROCESSED


def test_a_delivery_costs_one_query_once_its_endpoint_is_known(
    client: Any, connected: StripeConnection, django_assert_num_queries: Any
) -> None:
    key = connected.webhook_key
    # The first delivery in this process: the connection and its secret (kept a few seconds),
    # then INSERT … ON CONFLICT DO NOTHING RETURNING id.
    with django_assert_num_queries(2):
        first = signed_post(client, key, _event("balance.available", {}, "evt_q_1"))
    # From then on: the INSERT alone, which returns nothing for a duplicate.
    with django_assert_num_queries(1):
        repeat = signed_post(client, key, _event("balance.available", {}, "evt_q_1"))
    with django_assert_num_queries(1):
        second = signed_post(client, key, _event("balance.available", {}, "evt_q_2"))
    assert [r.json()["duplicate"] for r in (first, repeat, second)] == [False, True, False]
    assert WebhookEvent.objects.filter(connection=connected).count() == 2
    assert WebhookEvent.objects.get(event_id="evt_q_2").payload["type"] == "balance.available"


def test_a_new_signing_secret_counts_at_once_and_the_old_one_stops(
    client: Any, connected: StripeConnection
) -> None:
    from core.crypto import encrypt_secret

    key = connected.webhook_key
    assert signed_post(client, key, _event("balance.available", {}, "evt_s_1")).status_code == 200
    # Saved by another process: this one keeps the old secret, until a signature fails.
    StripeConnection.objects.filter(pk=connected.pk).update(
        webhook_secret_encrypted=encrypt_secret("whsec_rotated")
    )
    rotated = signed_post(
        client, key, _event("balance.available", {}, "evt_s_2"), secret="whsec_rotated"
    )
    assert rotated.status_code == 200
    stale = signed_post(client, key, _event("balance.available", {}, "evt_s_3"))
    assert stale.status_code == 400
    # Saved here (the admin, the API): forgotten at once.
    services.stripe_connection_save(
        company=connected.company, secret_key=None, webhook_secret="whsec_third"
    )
    assert (
        signed_post(
            client, key, _event("balance.available", {}, "evt_s_4"), secret="whsec_rotated"
        ).status_code
        == 400
    )
    assert (
        signed_post(
            client, key, _event("balance.available", {}, "evt_s_5"), secret="whsec_third"
        ).status_code
        == 200
    )
    assert sorted(WebhookEvent.objects.values_list("event_id", flat=True)) == [
        "evt_s_1",
        "evt_s_2",
        "evt_s_5",
    ]


def test_an_event_stored_while_a_drain_is_queued_is_processed_by_that_drain(
    client: Any, connected: StripeConnection, django_capture_on_commit_callbacks: Any
) -> None:
    from django.core.cache import cache

    from payments import webhooks

    # Both slots' drains are queued (or running): a delivery queues nothing more.
    for slot in range(webhooks.DRAIN_SLOTS):
        cache.add(webhooks._drain_flag(slot), 1, timeout=60)
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_post(
            client, connected.webhook_key, _event("payment_intent.canceled", {"id": "pi_x"})
        )
    assert response.status_code == 200
    assert WebhookEvent.objects.get().status == WebhookEventStatus.PENDING
    # The queued drain takes it, clears its flag, and the next delivery queues a drain again.
    assert webhooks.webhook_events_drain(slot=0) == 1
    assert WebhookEvent.objects.get().status == WebhookEventStatus.PROCESSED
    assert cache.get(webhooks._drain_flag(0)) is None
    with django_capture_on_commit_callbacks(execute=True):
        signed_post(
            client,
            connected.webhook_key,
            _event("payment_intent.canceled", {"id": "pi_y"}, "evt_test_2"),
        )
    assert WebhookEvent.objects.get(event_id="evt_test_2").status == WebhookEventStatus.PROCESSED


def _stored(connected: StripeConnection, event: dict[str, Any]) -> WebhookEvent:
    return WebhookEvent.objects.create(
        connection=connected, event_id=event["id"], type=event["type"], payload=event
    )


def test_processing_an_event_costs_a_constant_number_of_queries(
    tenant: Company, connected: StripeConnection, django_assert_num_queries: Any
) -> None:
    from payments import webhooks

    invoice = make_invoice(tenant, lines=[("Work", "1", 5000, "0")])
    session_paid, intent_paid, _charge = paid_checkout_events([invoice], "q")
    completed = _stored(connected, session_paid)
    succeeded = _stored(connected, intent_paid)
    # The payment: (the event's own transaction: BEGIN in a worker, a savepoint here)
    # 1 SELECT the event FOR UPDATE SKIP LOCKED, with its connection and company;
    # 2 SAVEPOINT (the handler); 3 SELECT a payment of the PaymentIntent (none yet);
    # 4 SAVEPOINT (payment_record); 5 SELECT the invoice FOR UPDATE (its row only), with its
    # customer (its company is the event's); 6 SELECT the payment again, under the lock;
    # 7-9 SAVEPOINT, INSERT the payment, RELEASE; 10 INSERT the audit event;
    # 11 UPDATE the invoice's amount_paid and status together (the transition, under the
    # lock already held: not locked and read again); 12 INSERT the status change;
    # 13 INSERT the audit event; 14-15 RELEASE the two savepoints; 16 UPDATE the event
    # processed; (COMMIT).
    with django_assert_num_queries(18):
        assert webhooks.webhook_event_process(event_pk=completed.pk) == "processed"
    with django_assert_num_queries(7):
        assert webhooks.webhook_event_process(event_pk=succeeded.pk) == "processed"
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.PAID, 5000)
    assert Payment.objects.get().provider_payment_intent_id == "pi_q_0"


def test_a_drain_processes_waiting_events_a_batch_per_transaction(
    tenant: Company, connected: StripeConnection, django_assert_num_queries: Any
) -> None:
    from django.db import connection

    from payments import webhooks

    # More than a batch, all about one invoice: one drain key, so one slot's share.
    count = webhooks.DRAIN_BATCH + 5
    waiting = [
        _stored(
            connected,
            _event(
                "payment_intent.canceled",
                {"id": f"pi_c{n}", "metadata": {"invoice": "inv_batch"}},
                f"evt_c{n}",
            ),
        )
        for n in range(count)
    ]
    slot = webhooks.drain_key(_event("x", {"metadata": {"invoice": "inv_batch"}}))
    slot %= webhooks.DRAIN_SLOTS
    WebhookEvent.objects.update(drain_key=slot)
    # Per batch: its transaction (a savepoint here, two statements), SELECT the batch FOR
    # UPDATE SKIP LOCKED with the connections and companies, SET LOCAL lock_timeout
    # (PostgreSQL), one UPDATE of the events' status. Per event: SAVEPOINT, UPDATE the card
    # attempt (none), RELEASE. Then the look for more: its own share and any share (empty, 3
    # statements each), the flag cleared, any share once more (3).
    per_batch = 5 if connection.vendor == "postgresql" else 4
    per_event = 3
    looks = 3 * 3
    with django_assert_num_queries(2 * per_batch + per_event * count + looks):
        assert webhooks.webhook_events_drain(slot=slot) == count
    stored = WebhookEvent.objects.filter(pk__in=[e.pk for e in waiting])
    assert set(stored.values_list("status", "attempts")) == {(WebhookEventStatus.PROCESSED, 1)}


def test_a_failing_event_fails_alone_and_the_rest_of_its_batch_is_applied(
    tenant: Company, connected: StripeConnection
) -> None:
    from payments import webhooks

    invoice = make_invoice(tenant, lines=[("Work", "1", 5000, "0")])
    metadata = {"invoice": invoice.public_id}
    # A refund delivered before its payment (the handler raises), between two events that
    # pay the invoice: the refund fails and is retried later, the payment counts once.
    session_paid, intent_paid, _charge = paid_checkout_events([invoice], "b")
    refund = {"id": "ch_other", "payment_intent": "pi_other", "amount_refunded": 100}
    first = _stored(connected, session_paid)
    refused = _stored(
        connected,
        _event("charge.refunded", {**refund, "metadata": metadata}, "evt_b_2"),
    )
    last = _stored(connected, intent_paid)
    assert webhooks.webhook_events_drain(slot=0) == 3
    for event in (first, last):
        event.refresh_from_db()
        assert (event.status, event.attempts, event.error) == (WebhookEventStatus.PROCESSED, 1, "")
    refused.refresh_from_db()
    assert (refused.status, refused.attempts) == (WebhookEventStatus.FAILED, 1)
    assert refused.error.startswith("PaymentNotRecordedYet")
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.PAID, 5000)
    assert list(Payment.objects.values_list("provider_payment_intent_id", flat=True)) == ["pi_b_0"]


def test_an_event_of_a_type_no_handler_takes_is_stored_ignored_and_queues_nothing(
    client: Any, connected: StripeConnection, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = signed_post(client, connected.webhook_key, _event("charge.succeeded", {}))
    assert (response.status_code, queued) == (200, [])
    stored = WebhookEvent.objects.get()
    assert (stored.status, stored.attempts) == (WebhookEventStatus.IGNORED, 0)
    assert stored.processed_at is not None
    with django_capture_on_commit_callbacks(execute=False) as queued:
        signed_post(client, connected.webhook_key, _event("charge.refunded", {}, "evt_test_2"))
    assert len(queued) == 1
    assert WebhookEvent.objects.get(event_id="evt_test_2").status == WebhookEventStatus.PENDING
