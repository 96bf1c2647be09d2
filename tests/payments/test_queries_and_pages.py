"""Query budgets of the hot paths, Checkout expiry, and the pay action inside the portal."""

from __future__ import annotations

import time
from typing import Any

import stripe

from invoices.models import Company
from payments import services
from payments.models import AttemptStatus, CheckoutAttempt, StripeConnection, WebhookEvent
from payments.stripe_client import API_VERSION
from stripe_emulator.server import EmulatorServer
from tests.factories import make_invoice, portal_token, share_token
from tests.payments.conftest import SECRET_KEY, emulator_events, signed_post


def test_it_stores_a_webhook_event_in_few_queries(
    client: Any,
    connected: StripeConnection,
    django_assert_max_num_queries: Any,
) -> None:
    event = {
        "id": "evt_budget",
        "api_version": API_VERSION,
        "type": "customer.created",
        "data": {"object": {}},
    }
    # Every Stripe retry storm hits this path, so it must stay small. Expected:
    # 1 the connection by webhook key (with its company), 2 SAVEPOINT, 3 SELECT event by id,
    # 4 SAVEPOINT, 5 INSERT the event, 6 RELEASE, 7 RELEASE (processing runs after commit).
    with django_assert_max_num_queries(7):
        response = signed_post(client, connected.webhook_key, event)
    assert response.status_code == 200
    assert WebhookEvent.objects.count() == 1


def test_it_answers_a_duplicate_webhook_in_fewer_queries(
    client: Any, connected: StripeConnection, django_assert_max_num_queries: Any
) -> None:
    event = {
        "id": "evt_dup_budget",
        "api_version": API_VERSION,
        "type": "customer.created",
        "data": {"object": {}},
    }
    signed_post(client, connected.webhook_key, event)
    # 1 the connection, 2 SAVEPOINT, 3 SELECT the stored event, 4 RELEASE: nothing written.
    with django_assert_max_num_queries(4):
        assert signed_post(client, connected.webhook_key, event).json()["duplicate"] is True


def test_it_reads_the_stripe_connection_once_on_the_invoice_page(
    client: Any, tenant: Company, connected: StripeConnection, django_assert_max_num_queries: Any
) -> None:
    token = share_token(make_invoice(tenant))
    client.get(f"/invoice/{token}")  # warm caches (templates, content types)
    with django_assert_max_num_queries(30) as captured:
        response = client.get(f"/invoice/{token}")
    assert 'data-publishable-key="pk_test_tenant"' in response.content.decode()
    ours = [q["sql"] for q in captured.captured_queries if "payments_stripeconnection" in q["sql"]]
    # One read serves the page's gate (connected?) and the card config (publishable key).
    assert len(ours) == 1


def test_it_marks_an_expired_session_and_starts_a_new_one_next_time(
    deliver: Any, tenant: Company, connected: StripeConnection, emulator: EmulatorServer
) -> None:
    invoice = make_invoice(tenant)
    first = services.checkout_session_start(
        invoice=invoice, amount=1000, return_base_url="http://testserver/invoice/t"
    )
    client = stripe.StripeClient(SECRET_KEY, base_addresses={"api": emulator.base_url})
    client.v1.checkout.sessions.expire(first.provider_id)
    [expired] = [
        e for e in emulator_events(emulator.base_url) if e["type"] == "checkout.session.expired"
    ]
    deliver(expired)
    first.refresh_from_db()
    assert first.status == AttemptStatus.EXPIRED
    second = services.checkout_session_start(
        invoice=invoice, amount=1000, return_base_url="http://testserver/invoice/t"
    )
    assert second.pk != first.pk
    assert second.provider_id != first.provider_id
    assert CheckoutAttempt.objects.count() == 2


def test_it_offers_pay_in_the_portal_without_the_card_form(
    client: Any, tenant: Company, customer: Any, connected: StripeConnection
) -> None:
    make_invoice(tenant, customer)
    response = client.get(f"/portal/{portal_token(customer)}")
    body = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="pay-button"' in body
    # One card form per page at most; the portal lists many invoices, so it has none.
    assert "data-pay-card" not in body


def test_it_expires_nothing_when_the_signature_is_old(
    client: Any, connected: StripeConnection
) -> None:
    event = {
        "id": "evt_old",
        "api_version": API_VERSION,
        "type": "checkout.session.expired",
        "data": {"object": {}},
    }
    old = int(time.time()) - 301
    assert signed_post(client, connected.webhook_key, event, timestamp=old).status_code == 400
