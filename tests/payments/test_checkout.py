"""Pay with Stripe Checkout: gates, the 303, the fixed idempotency key, the success page's
reconciliation, the cancel page, the API listing, rate limits. Against the emulator over HTTP."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from invoices.models import Company, InvoiceStatus
from invoices.services import invoice_void
from payments.models import CheckoutAttempt, Payment, StripeConnection
from stripe_emulator.server import EmulatorServer
from tests.factories import make_company, make_invoice, share_token
from tests.payments.conftest import SECRET_KEY, attempt_id_from, pay_on_hosted_page


def _post_pay(client: Any, token: str, amount: str) -> Any:
    return client.post(f"/invoice/{token}/pay", {"amount": amount})


def _success_path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


# Gates: the button and the server agree -----------------------------------------------


def test_it_shows_the_pay_button_when_every_gate_is_open(
    client: Any, tenant: Company, connected: StripeConnection
) -> None:
    token = share_token(make_invoice(tenant))
    response = client.get(f"/invoice/{token}")
    assert response.status_code == 200
    assert f'action="/invoice/{token}/pay?lang=en"' in response.content.decode()


def test_it_hides_pay_and_refuses_without_a_stripe_connection(
    client: Any, tenant: Company, emulator: EmulatorServer
) -> None:
    token = share_token(make_invoice(tenant))
    assert "/pay" not in client.get(f"/invoice/{token}").content.decode()
    response = _post_pay(client, token, "10.00")
    assert response.status_code == 409
    assert "not available" in response.content.decode()


def test_it_hides_pay_and_refuses_on_the_free_plan(
    client: Any, db: Any, emulator: EmulatorServer
) -> None:
    from payments.services import stripe_connection_save

    free = make_company(slug="free-co", plan="free")
    stripe_connection_save(company=free, secret_key="sk_test_free", webhook_secret="whsec_x")
    token = share_token(make_invoice(free))
    assert "/pay" not in client.get(f"/invoice/{token}").content.decode()
    assert _post_pay(client, token, "10.00").status_code == 409


@pytest.mark.parametrize("status", ["paid", "void", "uncollectible"])
def test_it_hides_pay_and_refuses_unless_the_invoice_is_open(
    client: Any, tenant: Company, connected: StripeConnection, status: str
) -> None:
    token = share_token(make_invoice(tenant, status=status))
    assert f"/invoice/{token}/pay" not in client.get(f"/invoice/{token}").content.decode()
    response = _post_pay(client, token, "10.00")
    assert response.status_code == 409
    assert CheckoutAttempt.objects.count() == 0


def test_it_refuses_a_paid_invoice_with_a_clear_message(
    client: Any, tenant: Company, connected: StripeConnection
) -> None:
    token = share_token(make_invoice(tenant, status="paid"))
    response = _post_pay(client, token, "10.00")
    assert "This invoice is paid." in response.content.decode()


def test_it_hides_pay_and_refuses_when_nothing_is_due(
    client: Any, tenant: Company, connected: StripeConnection
) -> None:
    token = share_token(make_invoice(tenant, lines=[("Free", "1", 0, "0")]))
    assert f"/invoice/{token}/pay" not in client.get(f"/invoice/{token}").content.decode()
    assert _post_pay(client, token, "0.50").status_code == 409


def test_it_answers_404_for_a_bad_token(client: Any, connected: StripeConnection) -> None:
    response = _post_pay(client, "0" * 54, "10.00")
    assert response.status_code == 404


# Checkout -------------------------------------------------------------------------------


def test_it_sends_the_customer_to_checkout_with_a_303(
    client: Any, tenant: Company, connected: StripeConnection, emulator: EmulatorServer
) -> None:
    invoice = make_invoice(tenant, lines=[("Work", "1", 12050, "0")])
    response = _post_pay(client, share_token(invoice), "120.50")
    assert response.status_code == 303
    assert response["Location"].startswith(emulator.base_url + "/checkout/cs_test_")
    attempt = CheckoutAttempt.objects.get()
    assert (attempt.amount, attempt.currency, attempt.invoice_id) == (12050, "usd", invoice.pk)


def test_it_opens_checkout_with_the_email_metadata_and_return_urls(
    client: Any, tenant: Company, connected: StripeConnection, emulator: EmulatorServer
) -> None:
    import stripe

    invoice = make_invoice(tenant, lines=[("Work", "1", 12050, "0")])
    token = share_token(invoice)
    location = _post_pay(client, token, "120.50")["Location"]
    attempt = CheckoutAttempt.objects.get()
    stripe_ = stripe.StripeClient(SECRET_KEY, base_addresses={"api": emulator.base_url})
    session = stripe_.v1.checkout.sessions.retrieve(attempt.provider_id)
    assert location == session.url
    assert (session.amount_total, session.currency, session.mode) == (12050, "usd", "payment")
    assert session.customer_email == invoice.customer.email
    assert session.metadata["invoice"] == invoice.public_id
    assert session.client_reference_id == invoice.public_id
    query = f"?attempt={attempt.public_id}&lang=en"
    assert session.success_url == f"http://testserver/invoice/{token}/pay/success{query}"
    assert session.cancel_url == f"http://testserver/invoice/{token}/pay/cancel{query}"
    # The key is fixed per attempt (stored before Stripe is called), not per request.
    assert attempt.idempotency_key == f"invoice-portal-checkout-{attempt.public_id}"


def test_it_reuses_the_same_session_when_pay_is_pressed_twice(
    client: Any, tenant: Company, connected: StripeConnection
) -> None:
    token = share_token(make_invoice(tenant))
    first = _post_pay(client, token, "10.00")
    second = _post_pay(client, token, "10.00")
    assert first["Location"] == second["Location"]
    assert CheckoutAttempt.objects.count() == 1


def test_it_keeps_the_typed_amount_and_shows_the_error_next_to_the_field(
    client: Any, tenant: Company, connected: StripeConnection
) -> None:
    invoice = make_invoice(tenant, allow_partial_payments=True)
    response = _post_pay(client, share_token(invoice), "12.345")
    body = response.content.decode()
    assert response.status_code == 400
    assert 'value="12.345"' in body
    assert 'aria-invalid="true"' in body
    assert "USD amounts have at most 2 decimal places." in body
    assert CheckoutAttempt.objects.count() == 0


def test_it_records_the_payment_on_the_success_page_and_marks_the_invoice_paid(
    client: Any, tenant: Company, connected: StripeConnection
) -> None:
    invoice = make_invoice(tenant, lines=[("Work", "1", 12050, "0")])
    token = share_token(invoice)
    checkout_url = _post_pay(client, token, "120.50")["Location"]
    success_url = pay_on_hosted_page(checkout_url)
    assert attempt_id_from(success_url)
    # No webhook endpoint is registered: the redirect alone must record the payment.
    response = client.get(_success_path(success_url))
    assert response.status_code == 200
    assert 'data-state="succeeded"' in response.content.decode()
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.PAID, 12050)
    payment = Payment.objects.get()
    assert (payment.amount, payment.method, payment.source) == (12050, "checkout", "redirect")
    # Reloading the success page records nothing twice.
    client.get(_success_path(success_url))
    assert Payment.objects.count() == 1


def test_it_records_a_partial_payment_and_keeps_the_invoice_open(
    client: Any, tenant: Company, connected: StripeConnection
) -> None:
    invoice = make_invoice(tenant, lines=[("Work", "1", 10000, "0")], allow_partial_payments=True)
    token = share_token(invoice)
    success_url = pay_on_hosted_page(_post_pay(client, token, "40.00")["Location"])
    client.get(_success_path(success_url))
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid, invoice.amount_due) == ("open", 4000, 6000)


def test_it_shows_a_calm_cancel_page(
    client: Any, tenant: Company, connected: StripeConnection
) -> None:
    token = share_token(make_invoice(tenant))
    response = client.get(f"/invoice/{token}/pay/cancel")
    assert response.status_code == 200
    assert "nothing was charged" in response.content.decode()
    assert f'href="/invoice/{token}?lang=en"' in response.content.decode()
    assert response["Cache-Control"] == "no-store"


def test_it_checks_ownership_of_the_attempt_on_the_success_page(
    client: Any, tenant: Company, connected: StripeConnection
) -> None:
    token = share_token(make_invoice(tenant))
    other_token = share_token(make_invoice(tenant))
    success_url = pay_on_hosted_page(_post_pay(client, token, "10.00")["Location"])
    attempt = attempt_id_from(success_url)
    response = client.get(f"/invoice/{other_token}/pay/success?attempt={attempt}")
    assert response.status_code == 404
    assert Payment.objects.count() == 0


def test_it_lists_the_payments_in_the_api(
    api_client: Any, client: Any, tenant: Company, connected: StripeConnection
) -> None:
    invoice = make_invoice(tenant, lines=[("Work", "1", 10000, "0")], allow_partial_payments=True)
    token = share_token(invoice)
    client.get(_success_path(pay_on_hosted_page(_post_pay(client, token, "25.00")["Location"])))
    response = api_client.get(f"/api/v1/invoices/{invoice.public_id}/payments")
    assert response.status_code == 200
    body = response.json()
    assert body["total_paid"] == 2500
    [payment] = body["data"]
    assert payment["id"].startswith("pay_")
    assert (payment["amount"], payment["currency"], payment["invoice"]) == (
        2500,
        "usd",
        invoice.public_id,
    )


def test_it_checks_ownership_in_the_payments_api(
    api_client: Any, other_tenant: Company, emulator: EmulatorServer
) -> None:
    invoice = make_invoice(other_tenant)
    response = api_client.get(f"/api/v1/invoices/{invoice.public_id}/payments")
    assert response.status_code == 404


def test_it_refuses_a_void_invoice_even_with_an_old_form(
    client: Any, tenant: Company, connected: StripeConnection
) -> None:
    invoice = make_invoice(tenant)
    token = share_token(invoice)
    invoice_void(invoice=invoice)
    response = _post_pay(client, token, "10.00")
    assert response.status_code == 409
    assert CheckoutAttempt.objects.count() == 0


def test_it_opens_checkout_in_the_page_language_even_after_an_english_click(
    client: Any, tenant: Company, connected: StripeConnection
) -> None:
    token = share_token(make_invoice(tenant))
    english = _post_pay(client, token, "10.00")
    german = client.post(f"/invoice/{token}/pay?lang=de", {"amount": "10.00"})
    # Same amount, other language: not Stripe's "same key, other body" error but a session.
    assert (english.status_code, german.status_code) == (303, 303)
    assert (
        client.post(f"/invoice/{token}/pay?lang=de", {"amount": "10.00"})["Location"]
        == (german["Location"])
    )


def test_it_keeps_the_page_language_through_pay_and_return_pages(
    client: Any, tenant: Company, connected: StripeConnection, emulator: Any
) -> None:
    import stripe

    invoice = make_invoice(tenant, lines=[("Work", "1", 12050, "0")])
    token = share_token(invoice)
    english = {"HTTP_ACCEPT_LANGUAGE": "en-US,en;q=0.9"}
    page = client.get(f"/invoice/{token}?lang=fr", **english).content.decode()
    assert f'action="/invoice/{token}/pay?lang=fr"' in page
    assert f'data-card-url="/invoice/{token}/pay/card?lang=fr"' in page
    # The form's own URL carries the language, whatever the browser prefers.
    again = client.post(f"/invoice/{token}/pay?lang=fr", {"amount": "999999"}, **english)
    assert again.status_code == 400
    assert again["Content-Language"] == "fr"
    assert f'href="/invoice/{token}?lang=fr"' in again.content.decode()
    client.post(f"/invoice/{token}/pay?lang=fr", {"amount": "120.50"}, **english)
    attempt = CheckoutAttempt.objects.get()
    stripe_ = stripe.StripeClient(SECRET_KEY, base_addresses={"api": emulator.base_url})
    session = stripe_.v1.checkout.sessions.retrieve(attempt.provider_id)
    assert session.cancel_url.endswith("&lang=fr")
    cancelled = client.get(session.cancel_url.removeprefix("http://testserver"), **english)
    assert cancelled.status_code == 200
    assert cancelled["Content-Language"] == "fr"
