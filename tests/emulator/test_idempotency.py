from __future__ import annotations

import pytest
import stripe

from .conftest import OTHER_KEY, make_client

PARAMS = {"amount": 1250, "currency": "usd", "metadata": {"invoice": "inv_1"}}


def test_the_same_key_and_body_replay_the_stored_answer(client):
    first = client.v1.payment_intents.create(params=PARAMS, options={"idempotency_key": "k1"})
    again = client.v1.payment_intents.create(params=dict(PARAMS), options={"idempotency_key": "k1"})

    assert again.id == first.id
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    assert len(client.v1.payment_intents.list().data) == 1


def test_the_same_key_with_another_body_is_an_idempotency_error(client):
    client.v1.payment_intents.create(params=PARAMS, options={"idempotency_key": "k1"})

    with pytest.raises(stripe.IdempotencyError) as exc:
        client.v1.payment_intents.create(
            params={**PARAMS, "amount": 1300}, options={"idempotency_key": "k1"}
        )

    assert exc.value.http_status == 400
    assert "same parameters" in exc.value.user_message


def test_the_same_key_on_another_endpoint_is_an_idempotency_error(client):
    intent = client.v1.payment_intents.create(params=PARAMS, options={"idempotency_key": "k1"})

    with pytest.raises(stripe.IdempotencyError):
        client.v1.payment_intents.cancel(intent.id, options={"idempotency_key": "k1"})


def test_keys_are_per_account(client, base_url):
    other = make_client(base_url, OTHER_KEY)

    mine = client.v1.payment_intents.create(params=PARAMS, options={"idempotency_key": "k1"})
    theirs = other.v1.payment_intents.create(
        params={**PARAMS, "amount": 999}, options={"idempotency_key": "k1"}
    )

    assert mine.id != theirs.id


def test_a_decline_is_replayed_without_charging_again(client):
    intent = client.v1.payment_intents.create(params=PARAMS)
    confirm = {"payment_method": "pm_card_chargeDeclined"}

    with pytest.raises(stripe.CardError) as first:
        client.v1.payment_intents.confirm(intent.id, confirm, {"idempotency_key": "c1"})
    with pytest.raises(stripe.CardError) as again:
        client.v1.payment_intents.confirm(intent.id, confirm, {"idempotency_key": "c1"})

    assert again.value.error.charge == first.value.error.charge
    assert len(client.v1.charges.list().data) == 1


def test_a_request_refused_by_validation_can_be_retried_with_its_key(client):
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_intents.create(
            params={**PARAMS, "amount": 10}, options={"idempotency_key": "k1"}
        )

    intent = client.v1.payment_intents.create(params=PARAMS, options={"idempotency_key": "k1"})

    assert intent.amount == 1250
