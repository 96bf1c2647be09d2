from __future__ import annotations

import json

import pytest
import stripe

from stripe_emulator.params import decode_form

from .conftest import API_KEY, control, http, make_client


@pytest.mark.parametrize("key", ["sk_live_abc", "nonsense", "pk_test_alpha", "sk_test_"])
def test_a_bad_key_is_an_authentication_error(base_url, key):
    with pytest.raises(stripe.AuthenticationError) as exc:
        make_client(base_url, key).v1.payment_intents.list()

    assert exc.value.http_status == 401


def test_a_missing_key_is_401(base_url):
    status, _, body = http("GET", f"{base_url}/v1/payment_intents")

    assert status == 401
    assert json.loads(body)["error"]["type"] == "invalid_request_error"


def test_a_revoked_key_is_refused(client, base_url):
    client.v1.payment_intents.list()

    control(base_url, "POST", "/_emulator/accounts/revoke", {"api_key": API_KEY})

    with pytest.raises(stripe.AuthenticationError) as exc:
        client.v1.payment_intents.list()
    assert exc.value.json_body["error"]["code"] == "api_key_expired"


def test_unknown_and_missing_parameters_name_the_parameter(client):
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        client.v1.payment_intents.create(
            params={"amount": 1000, "currency": "usd", "amuont": 1}  # type: ignore[typeddict-unknown-key]
        )
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.payment_intents.create(params={"currency": "usd"})  # type: ignore[typeddict-item]

    assert unknown.value.param == "amuont"
    assert "Received unknown parameter: amuont" in unknown.value.user_message
    assert (missing.value.param, missing.value.code) == ("amount", "parameter_missing")


def test_an_unknown_id_is_a_404(client):
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.payment_intents.retrieve("pi_missing")

    assert (exc.value.http_status, exc.value.code) == (404, "resource_missing")


def test_an_unknown_url_is_a_404(base_url):
    headers = {"Authorization": f"Bearer {API_KEY}"}
    status, _, body = http("GET", f"{base_url}/v1/customers_typo", headers=headers)

    assert status == 404
    assert "Unrecognized request URL" in json.loads(body)["error"]["message"]


def test_an_invalid_expand_is_refused(client):
    intent = client.v1.payment_intents.create(params={"amount": 1000, "currency": "usd"})

    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.payment_intents.retrieve(intent.id, params={"expand": ["currency"]})

    assert exc.value.param == "expand"


def test_an_invalid_api_version_is_refused(base_url):
    client = stripe.StripeClient(
        API_KEY, base_addresses={"api": base_url}, stripe_version="yesterday"
    )

    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_intents.list()


def test_events_carry_the_pinned_api_version(base_url):
    client = stripe.StripeClient(
        API_KEY, base_addresses={"api": base_url}, stripe_version="2025-01-27.acacia"
    )

    client.v1.payment_intents.create(params={"amount": 1000, "currency": "usd"})

    assert client.v1.events.list().data[0].api_version == "2025-01-27.acacia"


def test_module_level_api_base_works_too(base_url, monkeypatch):
    monkeypatch.setattr(stripe, "api_base", base_url)
    monkeypatch.setattr(stripe, "api_key", API_KEY)

    intent = stripe.PaymentIntent.create(amount=1000, currency="usd")

    assert stripe.PaymentIntent.retrieve(intent.id).amount == 1000


def test_form_decoding_builds_nested_params():
    raw = (
        "line_items[0][price_data][currency]=usd&line_items[0][quantity]=2"
        "&line_items[1][quantity]=1&metadata[0]=zero&expand[]=a&expand[]=b&flag=true"
    )

    assert decode_form(raw) == {
        "line_items": [{"price_data": {"currency": "usd"}, "quantity": "2"}, {"quantity": "1"}],
        # Metadata keys are the caller's own, even when they look like indexes.
        "metadata": {"0": "zero"},
        "expand": ["a", "b"],
        "flag": "true",
    }


def test_a_base_url_with_a_trailing_slash_works(base_url):
    client = make_client(base_url + "/")

    assert client.v1.payment_intents.list().data == []
