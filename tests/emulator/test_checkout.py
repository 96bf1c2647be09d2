from __future__ import annotations

from urllib.parse import urlencode

import pytest
import stripe

from .conftest import API_KEY, control, events_of, http

SUCCESS = "http://127.0.0.1:8000/invoice/tok/paid?session={CHECKOUT_SESSION_ID}"
CANCEL = "http://127.0.0.1:8000/invoice/tok"


def create_session(client: stripe.StripeClient, **extra: object) -> stripe.checkout.Session:
    params = {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 2,
                "price_data": {
                    "currency": "usd",
                    "unit_amount": 1250,
                    "product_data": {"name": "Invoice INV-0001"},
                },
            }
        ],
        "customer_email": "payer@example.com",
        "client_reference_id": "inv_1",
        "metadata": {"invoice": "inv_1"},
        "payment_intent_data": {"metadata": {"invoice": "inv_1"}},
        "success_url": SUCCESS,
        "cancel_url": CANCEL,
        **extra,
    }
    return client.v1.checkout.sessions.create(params=params)


def pay(
    session: stripe.checkout.Session, card: str = "4242424242424242"
) -> tuple[int, dict, bytes]:
    form = urlencode({"card_number": card, "email": "payer@example.com"}).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    return http("POST", session.url + "/pay", form, headers)


def test_it_creates_a_session_with_stripes_shape_and_totals(client, base_url):
    session = create_session(
        client,
        line_items=[
            {
                "quantity": 2,
                "price_data": {
                    "currency": "usd",
                    "unit_amount": 1250,
                    "product_data": {"name": "Consulting"},
                },
            },
            # The older inline form: amount, currency and name.
            {"quantity": 1, "amount": 499, "currency": "usd", "name": "Fee"},
        ],
    )

    assert isinstance(session, stripe.checkout.Session)
    assert session.id.startswith("cs_test_")
    assert session.amount_total == 2999
    assert session.amount_subtotal == 2999
    assert session.currency == "usd"
    assert session.status == "open"
    assert session.payment_status == "unpaid"
    assert session.payment_intent is None
    assert session.livemode is False
    assert session.metadata.to_dict() == {"invoice": "inv_1"}
    assert session.client_reference_id == "inv_1"
    assert session.url == f"{base_url}/checkout/{session.id}"
    items = client.v1.checkout.sessions.line_items.list(session.id)
    assert [(i.description, i.quantity, i.amount_total) for i in items.data] == [
        ("Consulting", 2, 2500),
        ("Fee", 1, 499),
    ]


def test_it_pays_on_the_hosted_page_and_delivers_signed_webhooks(
    client, emulator, endpoint, receiver
):
    session = create_session(client)

    status, _, page = http("GET", session.url)
    assert status == 200
    assert b'id="pay-button"' in page and b">Pay</button>" in page
    assert b'id="cancel-button"' in page and b">Cancel</button>" in page
    assert b"25.00 USD" in page and b"Invoice INV-0001" in page

    status, headers, _ = pay(session)
    assert status == 303
    assert headers["Location"] == SUCCESS.replace("{CHECKOUT_SESSION_ID}", session.id)

    paid = client.v1.checkout.sessions.retrieve(
        session.id, params={"expand": ["payment_intent.latest_charge"]}
    )
    assert (paid.status, paid.payment_status) == ("complete", "paid")
    assert paid.url is None
    assert paid.customer_details.email == "payer@example.com"
    intent = paid.payment_intent
    assert intent.status == "succeeded"
    assert intent.amount == intent.amount_received == 2500
    assert intent.metadata.to_dict() == {"invoice": "inv_1"}
    assert intent.latest_charge.paid is True and intent.latest_charge.amount == 2500

    events = events_of(receiver.wait_for(4))
    assert [e.type for e in events] == [
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
        "checkout.session.completed",
    ]
    completed = events[-1]
    assert completed.data.object.id == session.id
    assert completed.data.object.payment_intent == intent.id
    assert completed.data.object.metadata["invoice"] == "inv_1"
    assert all(e.livemode is False and e.api_version for e in events)
    assert receiver.deliveries[0].path == "/webhooks/stripe/company-a"


def test_it_shows_a_decline_and_lets_the_customer_retry(client):
    session = create_session(client)

    status, _, page = pay(session, "4000 0000 0000 0002")
    assert status == 402
    assert b"Your card was declined." in page
    declined = client.v1.checkout.sessions.retrieve(session.id)
    assert declined.status == "open"
    first_intent = declined.payment_intent
    assert client.v1.payment_intents.retrieve(first_intent).status == "requires_payment_method"

    status, _, _ = pay(session)
    assert status == 303
    paid = client.v1.checkout.sessions.retrieve(session.id)
    # Checkout reuses its PaymentIntent across attempts.
    assert paid.payment_intent == first_intent
    assert paid.payment_status == "paid"


def test_it_does_not_charge_twice_on_a_double_submit(client):
    session = create_session(client)

    assert pay(session)[0] == 303
    assert pay(session)[0] == 303

    assert len(client.v1.charges.list().data) == 1


def test_it_redirects_cancel_to_cancel_url_and_keeps_the_session_open(client):
    session = create_session(client)

    status, headers, _ = http("POST", session.url + "/cancel", b"")

    assert status == 303
    assert headers["Location"] == CANCEL
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"


def test_it_expires_a_session(client, endpoint, receiver):
    session = create_session(client)

    expired = client.v1.checkout.sessions.expire(session.id)

    assert (expired.status, expired.url) == ("expired", None)
    assert [e.type for e in events_of(receiver.wait_for(1))] == ["checkout.session.expired"]
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.checkout.sessions.expire(session.id)
    assert http("GET", session.url)[0] == 410
    assert pay(session)[0] == 410


def test_a_processing_card_completes_the_session_unpaid_until_it_settles(
    client, base_url, endpoint, receiver
):
    session = create_session(client)

    assert pay(session, "4000000000000259")[0] == 303
    pending = client.v1.checkout.sessions.retrieve(session.id)
    assert (pending.status, pending.payment_status) == ("complete", "unpaid")

    status, intent = control(
        base_url, "POST", f"/_emulator/payment_intents/{pending.payment_intent}/succeed"
    )
    assert (status, intent["status"]) == (200, "succeeded")
    assert client.v1.checkout.sessions.retrieve(session.id).payment_status == "paid"
    types = [e.type for e in events_of(receiver.wait_for(7))]
    assert types == [
        "payment_intent.created",
        "charge.pending",
        "payment_intent.processing",
        "checkout.session.completed",
        "charge.succeeded",
        "payment_intent.succeeded",
        "checkout.session.async_payment_succeeded",
    ]


def test_it_lists_sessions_by_payment_intent(client):
    first, second = create_session(client), create_session(client)
    pay(second)
    intent = client.v1.checkout.sessions.retrieve(second.id).payment_intent

    listed = client.v1.checkout.sessions.list(params={"payment_intent": intent})
    everything = client.v1.checkout.sessions.list()

    assert [s.id for s in listed.data] == [second.id]
    assert [s.id for s in everything.data] == [second.id, first.id]


def test_it_validates_like_stripe(client):
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.checkout.sessions.create(params={"mode": "payment", "success_url": SUCCESS})
    assert missing.value.param == "line_items"

    with pytest.raises(stripe.InvalidRequestError) as no_name:
        create_session(
            client,
            line_items=[{"quantity": 1, "price_data": {"currency": "usd", "unit_amount": 100}}],
        )
    assert no_name.value.param == "line_items[0][price_data][product_data][name]"

    with pytest.raises(stripe.InvalidRequestError) as too_small:
        create_session(
            client,
            line_items=[{"quantity": 1, "amount": 20, "currency": "usd", "name": "Tiny"}],
        )
    assert too_small.value.code == "amount_too_small"


def test_the_hosted_page_of_an_unknown_session_is_404(base_url):
    assert http("GET", f"{base_url}/checkout/cs_test_nope")[0] == 404


def test_sessions_belong_to_their_account(client, base_url):
    session = create_session(client)
    other = stripe.StripeClient(
        API_KEY.replace("alpha", "beta"), base_addresses={"api": base_url}, max_network_retries=0
    )

    with pytest.raises(stripe.InvalidRequestError) as exc:
        other.v1.checkout.sessions.retrieve(session.id)

    assert exc.value.http_status == 404
    assert exc.value.code == "resource_missing"
