from __future__ import annotations

import time
from collections import Counter

import pytest
import stripe

from stripe_emulator import webhooks

from .conftest import API_KEY, OTHER_KEY, WEBHOOK_SECRET, control, events_of, make_client


def pay_once(client: stripe.StripeClient) -> stripe.PaymentIntent:
    """Three events: payment_intent.created, charge.succeeded, payment_intent.succeeded."""
    return client.v1.payment_intents.create(
        params={
            "amount": 1000,
            "currency": "usd",
            "payment_method": "pm_card_visa",
            "confirm": True,
        }
    )


def set_options(base_url: str, endpoint: dict, **options: object) -> None:
    path = f"/_emulator/webhook_endpoints/{endpoint['id']}/options"
    status, answer = control(base_url, "POST", path, options)
    assert status == 200, answer


def wait_idle(base_url: str) -> dict:
    status, answer = control(base_url, "POST", "/_emulator/wait_idle", {"timeout": 5})
    assert status == 200 and answer["idle"], answer
    return answer


def test_the_signature_is_stripes(client, endpoint, receiver):
    pay_once(client)
    delivery = receiver.wait_for(1)[0]

    timestamp = delivery.signature.split(",")[0].removeprefix("t=")
    expected = webhooks.sign(delivery.body, WEBHOOK_SECRET, int(timestamp))
    assert delivery.signature == expected
    assert events_of([delivery])[0].type == "payment_intent.created"
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(delivery.body, delivery.signature, "whsec_other")


def test_duplicate_and_shuffle_deliver_every_event_n_times(
    client, base_url, endpoint, receiver, monkeypatch
):
    # Reverse instead of a random shuffle, so the test can see that the batch was reordered.
    monkeypatch.setattr(webhooks.random, "shuffle", lambda jobs: jobs.reverse())
    set_options(base_url, endpoint, duplicate=3, shuffle=True, batch_ms=50)
    intent = pay_once(client)

    events = events_of(receiver.wait_for(9))
    wait_idle(base_url)

    assert len(receiver.deliveries) == 9
    created = [e.id for e in client.v1.events.list().data][::-1]
    assert Counter(e.id for e in events) == {event_id: 3 for event_id in created}
    assert [e.id for e in events[:3]] == [created[-1]] * 3
    assert events[0].data.object.id == intent.id


def test_hold_keeps_events_until_flush(client, base_url, endpoint, receiver):
    set_options(base_url, endpoint, hold=True)
    pay_once(client)

    assert wait_idle(base_url)["held"] == 3
    assert receiver.deliveries == []

    status, answer = control(base_url, "POST", "/_emulator/flush", {"api_key": API_KEY})
    assert (status, answer) == (200, {"released": 3})
    assert len(receiver.wait_for(3)) == 3


def test_failed_deliveries_are_retried_with_backoff_and_logged(
    client, base_url, endpoint, receiver
):
    set_options(base_url, endpoint, retry_backoff_ms=10)
    receiver.statuses.extend([500, 503])
    client.v1.payment_intents.create(params={"amount": 1000, "currency": "usd"})

    events_of(receiver.wait_for(1))
    wait_idle(base_url)

    status, log = control(base_url, "GET", f"/_emulator/deliveries?api_key={API_KEY}")
    assert status == 200
    assert [(d["attempt"], d["status"], d["ok"]) for d in log["data"]] == [
        (1, 500, False),
        (2, 503, False),
        (3, 200, True),
    ]


def test_a_receiver_that_is_down_is_logged_as_an_error(client, base_url, receiver):
    status, data = control(
        base_url,
        "POST",
        "/_emulator/webhook_endpoints",
        {
            "api_key": API_KEY,
            "url": "http://127.0.0.1:9/nobody-here",
            "options": {"max_attempts": 2, "retry_backoff_ms": 1},
        },
    )
    assert status == 201
    client.v1.payment_intents.create(params={"amount": 1000, "currency": "usd"})

    wait_idle(base_url)

    _, log = control(base_url, "GET", f"/_emulator/deliveries?endpoint_id={data['id']}")
    assert [(d["attempt"], d["status"]) for d in log["data"]] == [(1, None), (2, None)]
    assert all(d["error"] for d in log["data"])


def test_resend_delivers_an_event_again(client, base_url, endpoint, receiver):
    client.v1.payment_intents.create(params={"amount": 1000, "currency": "usd"})
    first = events_of(receiver.wait_for(1))[0]

    status, answer = control(base_url, "POST", f"/_emulator/events/{first.id}/resend")

    assert (status, answer) == (200, {"queued": 1})
    assert [e.id for e in events_of(receiver.wait_for(2))] == [first.id, first.id]


def test_concurrency_delivers_from_several_threads(client, base_url, endpoint, receiver):
    set_options(base_url, endpoint, duplicate=4, delay_ms=300, concurrency=4)
    started = time.monotonic()

    client.v1.payment_intents.create(params={"amount": 1000, "currency": "usd"})
    receiver.wait_for(4)

    # One at a time this would take 4 x 300 ms.
    assert len(receiver.deliveries) == 4
    assert time.monotonic() - started < 1.0


def test_global_options_apply_to_every_endpoint(client, base_url, endpoint, receiver):
    status, answer = control(base_url, "POST", "/_emulator/delivery_options", {"duplicate": 2})
    assert status == 200 and answer["options"]["duplicate"] == 2

    client.v1.payment_intents.create(params={"amount": 1000, "currency": "usd"})

    assert len(receiver.wait_for(2)) == 2


def test_an_endpoint_gets_only_its_accounts_events_of_the_types_it_wants(
    client, base_url, receiver
):
    status, _ = control(
        base_url,
        "POST",
        "/_emulator/webhook_endpoints",
        {
            "api_key": API_KEY,
            "url": receiver.url,
            "secret": WEBHOOK_SECRET,
            "enabled_events": ["payment_intent.succeeded"],
        },
    )
    assert status == 201

    make_client(base_url, OTHER_KEY).v1.payment_intents.create(
        params={
            "amount": 1000,
            "currency": "usd",
            "payment_method": "pm_card_visa",
            "confirm": True,
        }
    )
    pay_once(client)
    wait_idle(base_url)

    assert [e.type for e in events_of(receiver.deliveries)] == ["payment_intent.succeeded"]


def test_events_are_listed_and_retrieved_through_the_api(client):
    intent = pay_once(client)

    events = client.v1.events.list(params={"type": "payment_intent.*"})
    one = client.v1.events.retrieve(events.data[0].id)

    assert [e.type for e in events.data] == ["payment_intent.succeeded", "payment_intent.created"]
    assert isinstance(one, stripe.Event)
    assert one.data.object.id == intent.id
    assert one.request.id.startswith("req_")


def test_the_control_api_rejects_bad_options(base_url, endpoint):
    path = f"/_emulator/webhook_endpoints/{endpoint['id']}/options"

    assert control(base_url, "POST", path, {"duplicate": 0})[0] == 400
    assert control(base_url, "POST", path, {"shufle": True})[0] == 400
    assert control(base_url, "POST", "/_emulator/webhook_endpoints/we_nope/options", {})[0] == 404
    bad_key = {"api_key": "sk_live_x", "url": "http://127.0.0.1:1/"}
    assert control(base_url, "POST", "/_emulator/webhook_endpoints", bad_key)[0] == 400
