from __future__ import annotations

import pytest
import stripe

from .conftest import events_of


def paid_intent(client: stripe.StripeClient, amount: int = 5000) -> stripe.PaymentIntent:
    return client.v1.payment_intents.create(
        params={
            "amount": amount,
            "currency": "eur",
            "payment_method": "pm_card_visa",
            "confirm": True,
            "payment_method_types": ["card"],
        }
    )


def test_it_refunds_part_then_the_rest_of_a_payment(client, endpoint, receiver):
    intent = paid_intent(client)

    first = client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 1500})
    rest = client.v1.refunds.create(params={"charge": intent.latest_charge})

    assert isinstance(first, stripe.Refund)
    assert (first.amount, first.status, first.currency) == (1500, "succeeded", "eur")
    assert (first.payment_intent, first.charge) == (intent.id, intent.latest_charge)
    assert rest.amount == 3500
    charge = client.v1.charges.retrieve(intent.latest_charge)
    assert (charge.amount_refunded, charge.refunded) == (5000, True)
    refunded = [e for e in events_of(receiver.wait_for(7)) if e.type == "charge.refunded"]
    assert [e.data.object.amount_refunded for e in refunded] == [1500, 5000]
    assert refunded[0].data.previous_attributes.amount_refunded == 0
    listed = client.v1.refunds.list(params={"payment_intent": intent.id})
    assert [r.id for r in listed.data] == [rest.id, first.id]


def test_it_refuses_to_refund_more_than_is_left(client):
    intent = paid_intent(client)
    client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 4000})

    with pytest.raises(stripe.InvalidRequestError) as too_much:
        client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 1001})
    client.v1.refunds.create(params={"payment_intent": intent.id})
    with pytest.raises(stripe.InvalidRequestError) as already:
        client.v1.refunds.create(params={"payment_intent": intent.id})

    assert (too_much.value.code, too_much.value.param) == ("amount_too_large", "amount")
    assert already.value.code == "charge_already_refunded"


def test_it_refuses_to_refund_an_unpaid_intent(client):
    intent = client.v1.payment_intents.create(params={"amount": 1000, "currency": "usd"})

    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.refunds.create(params={"payment_intent": intent.id})

    assert exc.value.param == "payment_intent"
