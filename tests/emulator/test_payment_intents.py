from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import pytest
import stripe

from .conftest import control, events_of, http


def create_intent(client: stripe.StripeClient, **extra: object) -> stripe.PaymentIntent:
    params = {
        "amount": 1250,
        "currency": "usd",
        "metadata": {"invoice": "inv_1"},
        "receipt_email": "payer@example.com",
        "payment_method_types": ["card"],
        **extra,
    }
    return client.v1.payment_intents.create(params=params)


def test_it_creates_an_intent_waiting_for_a_payment_method(client):
    intent = create_intent(client)

    assert isinstance(intent, stripe.PaymentIntent)
    assert intent.status == "requires_payment_method"
    assert intent.client_secret.startswith(intent.id + "_secret_")
    assert (intent.amount, intent.currency, intent.amount_received) == (1250, "usd", 0)
    assert intent.receipt_email == "payer@example.com"
    assert intent.automatic_payment_methods is None


def test_it_turns_on_automatic_payment_methods_unless_types_are_given(client):
    intent = client.v1.payment_intents.create(params={"amount": 1250, "currency": "usd"})

    assert intent.automatic_payment_methods.enabled is True
    assert intent.payment_method_types == ["card"]


def test_a_visa_payment_succeeds_with_a_charge(client, endpoint, receiver):
    intent = create_intent(client)

    confirmed = client.v1.payment_intents.confirm(
        intent.id, params={"payment_method": "pm_card_visa"}
    )

    assert confirmed.status == "succeeded"
    assert confirmed.amount_received == 1250
    assert confirmed.payment_method.startswith("pm_")
    charge = client.v1.charges.retrieve(confirmed.latest_charge)
    assert (charge.amount, charge.paid, charge.status) == (1250, True, "succeeded")
    assert charge.payment_method_details.card.last4 == "4242"
    assert [e.type for e in events_of(receiver.wait_for(3))] == [
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
    ]


def test_a_declined_card_raises_a_card_error_and_leaves_the_intent_retryable(
    client, endpoint, receiver
):
    intent = create_intent(client)

    with pytest.raises(stripe.CardError) as exc:
        client.v1.payment_intents.confirm(
            intent.id, params={"payment_method": "pm_card_chargeDeclined"}
        )

    assert exc.value.http_status == 402
    assert exc.value.code == "card_declined"
    assert exc.value.error.decline_code == "generic_decline"
    assert exc.value.error.payment_intent.id == intent.id
    failed = client.v1.payment_intents.retrieve(intent.id)
    assert failed.status == "requires_payment_method"
    assert failed.last_payment_error.code == "card_declined"
    assert failed.last_payment_error.message == "Your card was declined."
    types = [e.type for e in events_of(receiver.wait_for(3))]
    assert types == ["payment_intent.created", "charge.failed", "payment_intent.payment_failed"]

    retried = client.v1.payment_intents.confirm(
        intent.id, params={"payment_method": "pm_card_visa"}
    )
    assert retried.status == "succeeded"
    assert retried.last_payment_error is None


def test_an_insufficient_funds_card_has_its_own_decline_code(client):
    intent = create_intent(client)

    with pytest.raises(stripe.CardError) as exc:
        client.v1.payment_intents.confirm(
            intent.id, params={"payment_method": "pm_card_chargeDeclinedInsufficientFunds"}
        )

    assert exc.value.error.decline_code == "insufficient_funds"


def test_a_processing_card_settles_after_the_configured_delay(client, emulator):
    emulator.emulator.settings["processing_delay_ms"] = 50
    intent = create_intent(client)

    confirmed = client.v1.payment_intents.confirm(
        intent.id, params={"payment_method": "pm_card_processing"}
    )
    assert confirmed.status == "processing"

    deadline = time.monotonic() + 3
    while client.v1.payment_intents.retrieve(intent.id).status == "processing":
        assert time.monotonic() < deadline, "the processing payment never settled"
        time.sleep(0.02)
    assert client.v1.payment_intents.retrieve(intent.id).status == "succeeded"


def test_a_processing_payment_can_be_failed_through_the_control_api(client, base_url):
    intent = create_intent(client)
    client.v1.payment_intents.confirm(intent.id, params={"payment_method": "pm_card_processing"})

    status, failed = control(base_url, "POST", f"/_emulator/payment_intents/{intent.id}/fail")

    assert status == 200
    assert failed["status"] == "requires_payment_method"
    assert failed["last_payment_error"]["code"] == "card_declined"
    settled_twice = control(base_url, "POST", f"/_emulator/payment_intents/{intent.id}/fail")
    assert settled_twice[0] == 400


def test_it_confirms_at_creation(client):
    intent = create_intent(client, payment_method="pm_card_visa", confirm=True)

    assert intent.status == "succeeded"


def test_it_cancels_and_refuses_to_confirm_a_canceled_intent(client):
    intent = create_intent(client)

    canceled = client.v1.payment_intents.cancel(
        intent.id, params={"cancellation_reason": "abandoned"}
    )

    assert (canceled.status, canceled.cancellation_reason) == ("canceled", "abandoned")
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.payment_intents.confirm(intent.id, params={"payment_method": "pm_card_visa"})
    assert exc.value.code == "payment_intent_unexpected_state"


def test_it_updates_metadata_by_merging(client):
    intent = create_intent(client)

    updated = client.v1.payment_intents.update(
        intent.id, params={"metadata": {"invoice": "", "attempt": "2"}, "amount": 2000}
    )

    assert updated.metadata.to_dict() == {"attempt": "2"}
    assert updated.amount == 2000


def test_it_pages_through_a_list(client):
    ids = [create_intent(client).id for _ in range(7)]

    page = client.v1.payment_intents.list(params={"limit": 3})
    every = [intent.id for intent in page.auto_paging_iter()]

    assert page.has_more is True
    assert every == list(reversed(ids))


def test_stripe_js_can_retrieve_and_confirm_with_the_publishable_key(client, base_url):
    intent = create_intent(client)
    query = urlencode({"key": "pk_test_alpha", "client_secret": intent.client_secret})

    status, headers, body = http("GET", f"{base_url}/v1/payment_intents/{intent.id}?{query}")
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == "*"
    # A publishable key sees no metadata, as on Stripe.
    assert "metadata" not in json.loads(body)

    form = {
        "key": "pk_test_alpha",
        "client_secret": intent.client_secret,
        "payment_method_data[type]": "card",
        "payment_method_data[card][number]": "4000000000000002",
    }
    status, _, body = http(
        "POST", f"{base_url}/v1/payment_intents/{intent.id}/confirm", urlencode(form).encode()
    )
    assert status == 402
    assert json.loads(body)["error"]["decline_code"] == "generic_decline"


def test_the_publishable_key_needs_the_right_client_secret_and_account(client, base_url):
    intent = create_intent(client)
    url = f"{base_url}/v1/payment_intents/{intent.id}"

    wrong = urlencode({"key": "pk_test_alpha", "client_secret": intent.id + "_secret_wrong"})
    other_account = urlencode({"key": "pk_test_beta", "client_secret": intent.client_secret})
    no_secret = urlencode({"key": "pk_test_alpha"})

    assert http("GET", f"{url}?{wrong}")[0] == 400
    assert http("GET", f"{url}?{other_account}")[0] == 404
    assert http("GET", f"{url}?{no_secret}")[0] == 400
    # Only the Stripe.js calls are open to a publishable key.
    listing = http("GET", f"{base_url}/v1/payment_intents?key=pk_test_alpha")
    assert listing[0] == 401
