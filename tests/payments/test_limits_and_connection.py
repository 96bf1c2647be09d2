"""Rate limits (and Redis down), connect_stripe, secrets at rest, the admin connection form."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from core.crypto import decrypt_secret
from invoices.models import Company
from payments import ratelimits, services
from payments.models import CheckoutAttempt, StripeConnection
from stripe_emulator.server import EmulatorServer
from tests.factories import make_invoice, make_user, share_token

# Small limits over an hour: django-ratelimit counts in fixed windows, and a test whose
# requests straddled the end of a one-minute window would see its counter restart.
LIMIT = 3


@pytest.fixture(autouse=True)
def _small_limits(monkeypatch: Any) -> None:
    monkeypatch.setattr(ratelimits, "PAY_RATE_PER_TOKEN", f"{LIMIT}/h")
    monkeypatch.setattr(ratelimits, "PAY_RATE_PER_IP", f"{2 * LIMIT}/h")


def test_it_rate_limits_pay_requests_per_link(
    client: Any, tenant: Company, connected: StripeConnection
) -> None:
    token = share_token(make_invoice(tenant))
    statuses = [
        client.post(f"/invoice/{token}/pay", {"amount": "10.00"}).status_code
        for _ in range(LIMIT + 1)
    ]
    assert statuses == [303] * LIMIT + [429]
    # Another link from the same address is counted apart (its per-IP budget is larger).
    other = share_token(make_invoice(tenant))
    assert client.post(f"/invoice/{other}/pay", {"amount": "10.00"}).status_code == 303


def test_it_rate_limits_per_client_address(
    client: Any, tenant: Company, connected: StripeConnection, settings: Any
) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    tokens = [share_token(make_invoice(tenant)) for _ in range(3)]
    statuses = [
        client.post(
            f"/invoice/{tokens[i % 3]}/pay", {"amount": "10.00"}, HTTP_X_FORWARDED_FOR="203.0.113.9"
        ).status_code
        for i in range(2 * LIMIT + 1)
    ]
    # Each link stays under its own limit; the address goes over its own.
    assert statuses == [303] * (2 * LIMIT) + [429]
    # A different client is not affected.
    response = client.post(
        f"/invoice/{share_token(make_invoice(tenant))}/pay",
        {"amount": "10.00"},
        HTTP_X_FORWARDED_FOR="198.51.100.7",
    )
    assert response.status_code == 303


def test_it_rate_limits_the_success_page_that_asks_stripe(
    client: Any, tenant: Company, connected: StripeConnection, monkeypatch: Any
) -> None:
    monkeypatch.setattr(ratelimits, "POLL_RATE_PER_TOKEN", f"{LIMIT}/h")
    token = share_token(make_invoice(tenant))
    client.post(f"/invoice/{token}/pay", {"amount": "10.00"})
    attempt = CheckoutAttempt.objects.get()
    statuses = [
        client.get(f"/invoice/{token}/pay/success?attempt={attempt.public_id}").status_code
        for _ in range(LIMIT + 1)
    ]
    assert statuses == [200] * LIMIT + [429]


def test_it_lets_customers_pay_when_redis_is_down(
    client: Any, tenant: Company, connected: StripeConnection, settings: Any
) -> None:
    # Decided: fail open (see payments.ratelimits). A Redis nobody listens on:
    settings.CACHES = {
        **settings.CACHES,
        "ratelimit-down": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        },
    }
    settings.RATELIMIT_USE_CACHE = "ratelimit-down"
    token = share_token(make_invoice(tenant))
    statuses = [
        client.post(f"/invoice/{token}/pay", {"amount": "10.00"}).status_code
        for _ in range(LIMIT + 2)
    ]
    assert statuses == [303] * (LIMIT + 2)
    assert CheckoutAttempt.objects.count() == 1


def test_it_connects_stripe_and_prints_the_webhook_path_last(tenant: Company) -> None:
    out = StringIO()
    call_command(
        "connect_stripe",
        "tenant",
        "--secret-key",
        "sk_test_cmd",
        "--webhook-secret",
        "whsec_c",
        stdout=out,
    )
    connection = StripeConnection.objects.get(company=tenant)
    assert out.getvalue().splitlines()[-1] == f"/webhooks/stripe/{connection.webhook_key}"
    assert "sk_test_cmd" not in out.getvalue()


def test_it_keeps_the_webhook_url_when_reconnecting(tenant: Company) -> None:
    first = services.stripe_connection_save(
        company=tenant, secret_key="sk_test_one", webhook_secret="whsec_one"
    )
    second = services.stripe_connection_save(
        company=tenant, secret_key="sk_test_two", webhook_secret="whsec_two"
    )
    assert first.webhook_key == second.webhook_key
    assert decrypt_secret(second.secret_key_encrypted) == "sk_test_two"


def test_it_registers_the_webhook_with_the_emulator(
    tenant: Company, emulator: EmulatorServer, settings: Any
) -> None:
    out = StringIO()
    for _ in range(2):  # twice: registered once
        call_command(
            "connect_stripe",
            "tenant",
            "--secret-key",
            "sk_test_demo",
            "--webhook-secret",
            "whsec_demo",
            "--register-with-emulator",
            stdout=out,
        )
    path = out.getvalue().splitlines()[-1]
    [endpoint] = emulator.emulator.webhooks.endpoints()
    assert endpoint.url == settings.PUBLIC_BASE_URL + path
    assert endpoint.secret == "whsec_demo"
    assert StripeConnection.objects.get().publishable_key == "pk_test_demo"


def test_it_stores_the_secrets_encrypted(tenant: Company) -> None:
    connection = services.stripe_connection_save(
        company=tenant, secret_key="sk_test_plaintext_check", webhook_secret="whsec_plain"
    )
    row = StripeConnection.objects.filter(pk=connection.pk).values().get()
    assert "sk_test_plaintext_check" not in str(row)
    assert "whsec_plain" not in str(row)
    assert decrypt_secret(row["webhook_secret_encrypted"]) == "whsec_plain"
    assert row["secret_key_hint"] == "heck"


def test_it_never_shows_the_secrets_in_the_admin(client: Any, tenant: Company) -> None:
    connection = services.stripe_connection_save(
        company=tenant, secret_key="sk_test_admin_hidden", webhook_secret="whsec_admin_hidden"
    )
    client.force_login(make_user("root", is_superuser=True))
    page = client.get(f"/admin/payments/stripeconnection/{connection.pk}/change/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "sk_test_admin_hidden" not in body
    assert "whsec_admin_hidden" not in body
    assert connection.secret_key_encrypted not in body
    # Saving with the secrets left blank keeps them.
    response = client.post(
        f"/admin/payments/stripeconnection/{connection.pk}/change/",
        {
            "publishable_key": "pk_test_new",
            "active": "on",
            "overpayment_handling": "refund",
            "secret_key": "",
            "webhook_secret": "",
        },
    )
    assert response.status_code == 302
    connection.refresh_from_db()
    assert decrypt_secret(connection.secret_key_encrypted) == "sk_test_admin_hidden"
    assert connection.publishable_key == "pk_test_new"


def test_it_checks_ownership_in_the_admin(client: Any, tenant: Company, outsider: Any) -> None:
    connection = services.stripe_connection_save(
        company=tenant, secret_key="sk_test_x", webhook_secret="whsec_x"
    )
    client.force_login(outsider)
    page = client.get(f"/admin/payments/stripeconnection/{connection.pk}/change/")
    assert page.status_code == 404


def test_it_explains_instead_of_crashing_when_the_key_no_longer_decrypts(
    client: Any, tenant: Company, connected: StripeConnection
) -> None:
    token = share_token(make_invoice(tenant))
    # What a SECRET_KEY rotation without SECRET_KEY_FALLBACKS leaves: a secret encrypted
    # under a key we no longer have.
    from cryptography.fernet import Fernet

    unreadable = Fernet(Fernet.generate_key()).encrypt(b"sk_test_tenant").decode()
    StripeConnection.objects.filter(pk=connected.pk).update(secret_key_encrypted=unreadable)
    response = client.post(f"/invoice/{token}/pay", {"amount": "10.00"})
    assert response.status_code == 502
    assert "not available" in response.content.decode()


def test_it_decrypts_with_a_fallback_key_after_rotation(
    tenant: Company, connected: StripeConnection, settings: Any
) -> None:
    old = settings.SECRET_KEY
    settings.SECRET_KEY = "the-new-secret-key-after-rotation-0123456789abcdef"
    settings.SECRET_KEY_FALLBACKS = [old]
    connected.refresh_from_db()
    assert decrypt_secret(connected.secret_key_encrypted) == "sk_test_tenant"


def test_it_lists_an_invoices_payments_and_flags_in_the_admin(
    client: Any, tenant: Company, staff: Any
) -> None:
    invoice = make_invoice(tenant, lines=[("Work", "1", 1000, "0")])
    for intent in ("pi_admin_one", "pi_admin_two"):  # the second one overpays
        services.payment_record(
            company=tenant,
            received=services.ReceivedPayment(
                intent_id=intent, amount=1000, currency="usd", invoice_public_id=invoice.public_id
            ),
            source="webhook",
        )
    client.force_login(staff)
    page = client.get(f"/admin/invoices/invoice/{invoice.pk}/change/").content.decode()
    assert page.count("pay_") >= 2
    flagged = client.get("/admin/payments/payment/?flagged=yes").content.decode()
    assert flagged.count('class="field-public_id"') == 1


def test_it_hides_other_companies_payments_in_the_admin(
    client: Any, tenant: Company, outsider: Any
) -> None:
    invoice = make_invoice(tenant)
    payment, _created = services.payment_record(
        company=tenant,
        received=services.ReceivedPayment(
            intent_id="pi_hidden", amount=1000, currency="usd", invoice_public_id=invoice.public_id
        ),
        source="webhook",
    )
    client.force_login(outsider)
    assert payment.public_id not in client.get("/admin/payments/payment/").content.decode()
    assert client.get(f"/admin/payments/payment/{payment.pk}/change/").status_code == 404
