"""The card on the page: the intent endpoint (amount rules as JSON errors) and the status
polling that asks Stripe and records the payment once."""

from __future__ import annotations

from typing import Any

from invoices.models import Company, InvoiceStatus
from payments.models import Payment, StripeConnection
from stripe_emulator.server import EmulatorServer
from tests.factories import make_invoice, share_token
from tests.payments.conftest import confirm_with_test_card


def test_it_creates_an_intent_for_the_amount_and_polls_it_to_paid(
    client: Any, tenant: Company, connected: StripeConnection, emulator: EmulatorServer
) -> None:
    invoice = make_invoice(tenant, lines=[("Work", "1", 2500, "0")])
    token = share_token(invoice)
    response = client.post(f"/invoice/{token}/pay/card", {"amount": "25.00"})
    assert response.status_code == 201
    body = response.json()
    assert body["client_secret"].startswith("pi_")
    status_url = body["status_url"]
    assert client.get(status_url).json()["state"] == "open"
    intent_id = body["client_secret"].split("_secret_")[0]
    confirm_with_test_card(emulator.base_url, intent_id)
    answer = client.get(status_url).json()
    assert (answer["state"], answer["invoice_status"], answer["amount_due"]) == (
        "succeeded",
        "paid",
        0,
    )
    client.get(status_url)
    assert Payment.objects.get().method == "card"


def test_it_answers_amount_errors_as_json_next_to_the_field(
    client: Any, tenant: Company, connected: StripeConnection
) -> None:
    invoice = make_invoice(tenant, currency="jpy", lines=[("Work", "1", 5000, "0")])
    response = client.post(f"/invoice/{share_token(invoice)}/pay/card", {"amount": "10.5"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("too_many_decimals", "amount")
    assert error["message"] == "JPY amounts have no decimal places."


def test_it_shows_a_decline_plainly_and_lets_the_customer_retry(
    client: Any, tenant: Company, connected: StripeConnection, emulator: EmulatorServer
) -> None:
    invoice = make_invoice(tenant)
    token = share_token(invoice)
    body = client.post(f"/invoice/{token}/pay/card", {"amount": "10.00"}).json()
    intent_id = body["client_secret"].split("_secret_")[0]
    confirm_with_test_card(emulator.base_url, intent_id, "pm_card_chargeDeclined")
    answer = client.get(body["status_url"]).json()
    assert answer["state"] == "failed"
    assert "declined" in answer["message"]
    confirm_with_test_card(emulator.base_url, intent_id, "pm_card_visa")
    assert client.get(body["status_url"]).json()["state"] == "succeeded"
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID


def test_it_shows_processing_until_the_bank_confirms(
    client: Any, tenant: Company, connected: StripeConnection, emulator: EmulatorServer
) -> None:
    from tests.payments.conftest import http

    invoice = make_invoice(tenant)
    body = client.post(f"/invoice/{share_token(invoice)}/pay/card", {"amount": "10.00"}).json()
    intent_id = body["client_secret"].split("_secret_")[0]
    confirm_with_test_card(emulator.base_url, intent_id, "pm_card_processing")
    answer = client.get(body["status_url"]).json()
    assert answer["state"] == "processing"
    assert "processing" in answer["message"]
    assert Payment.objects.count() == 0
    status, _headers, _body = http(
        "POST", f"{emulator.base_url}/_emulator/payment_intents/{intent_id}/succeed", {}
    )
    assert status == 200
    assert client.get(body["status_url"]).json()["state"] == "succeeded"
    assert Payment.objects.count() == 1


def test_it_checks_ownership_of_the_status_url(
    client: Any, tenant: Company, connected: StripeConnection
) -> None:
    token = share_token(make_invoice(tenant))
    body = client.post(f"/invoice/{token}/pay/card", {"amount": "10.00"}).json()
    attempt = body["attempt"]
    other = share_token(make_invoice(tenant))
    assert client.get(f"/invoice/{other}/pay/card/{attempt}").status_code == 404


def test_it_refuses_the_card_when_the_gate_is_closed(
    client: Any, tenant: Company, connected: StripeConnection
) -> None:
    token = share_token(make_invoice(tenant, status="void"))
    response = client.post(f"/invoice/{token}/pay/card", {"amount": "10.00"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "not_payable"


def test_it_asks_stripe_for_no_receipt_of_its_own(
    client: Any, tenant: Company, connected: StripeConnection, emulator: Any
) -> None:
    import stripe

    from payments.models import CheckoutAttempt
    from tests.payments.conftest import SECRET_KEY

    token = share_token(make_invoice(tenant))
    assert client.post(f"/invoice/{token}/pay/card", {"amount": "10.00"}).status_code == 201
    attempt = CheckoutAttempt.objects.get()
    stripe_ = stripe.StripeClient(SECRET_KEY, base_addresses={"api": emulator.base_url})
    intent = stripe_.v1.payment_intents.retrieve(attempt.provider_intent_id)
    assert not getattr(intent, "receipt_email", None)
