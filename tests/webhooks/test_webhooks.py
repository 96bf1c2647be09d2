"""Outgoing webhooks: endpoints through the API, refused targets, Standard Webhooks signatures
checked by a real receiver on 127.0.0.1, retries with back-off, the delivery log, disabling an
endpoint that keeps failing, secret rotation and the admin."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from invoices.models import Company, Invoice
from invoices.webhooks import services
from invoices.webhooks.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from payments import services as payment_services
from tests import factories

JSON = "application/json"
BROWSER = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36"
)


class Receiver:
    """A webhook receiver on 127.0.0.1 (ports 8800-8899) that keeps what it gets."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.status = 200
        self.port = 0
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(receiver.status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if receiver.status < 300 else b"receiver broke")

            def log_message(self, *args: Any) -> None:
                pass

        for port in range(8800, 8900):
            try:
                self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
            except OSError:
                continue
            self.port = port
            break
        assert self._server is not None, "no free port in 8800-8899"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def private_targets(settings: Any) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True


def verify_standard_webhook(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The receiver's check, written from the Standard Webhooks specification."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    if abs(time.time() - int(headers["webhook-timestamp"])) > 300:
        return False
    return any(
        version == "v1" and hmac.compare_digest(signature, expected)
        for version, _, signature in (
            part.partition(",") for part in headers["webhook-signature"].split(" ")
        )
    )


def _create(api_client: Any, url: str, events: list[str]) -> Any:
    return api_client.post(
        "/api/v1/webhook-endpoints", {"url": url, "events": events}, content_type=JSON
    )


@pytest.mark.django_db
class TestEndpointsApi:
    def test_it_creates_lists_and_deletes(
        self, api_client: Any, tenant: Company, private_targets: None
    ) -> None:
        created = _create(api_client, "https://hooks.example.com/in", ["invoice.paid"])
        assert created.status_code == 201, created.json()
        body = created.json()
        assert body["id"].startswith("we_") and body["status"] == "enabled"
        assert body["secret"].startswith("whsec_")
        assert len(base64.b64decode(body["secret"].removeprefix("whsec_"))) >= 24
        listed = api_client.get("/api/v1/webhook-endpoints").json()
        assert [e["id"] for e in listed["data"]] == [body["id"]]
        assert "secret" not in listed["data"][0]
        one = api_client.get(f"/api/v1/webhook-endpoints/{body['id']}").json()
        assert one["events"] == ["invoice.paid"] and "secret" not in one
        assert api_client.delete(f"/api/v1/webhook-endpoints/{body['id']}").status_code == 204
        assert api_client.get(f"/api/v1/webhook-endpoints/{body['id']}").status_code == 404

    @pytest.mark.parametrize(
        "events", [["invoice.exploded"], [], ["invoice.paid", "nope"], "invoice.paid"]
    )
    def test_it_refuses_unknown_events(self, api_client: Any, events: Any) -> None:
        response = _create(api_client, "https://hooks.example.com/in", events)
        assert response.status_code == 400
        assert response.json()["error"]["field"].startswith("events")
        assert not WebhookEndpoint.objects.exists()

    @pytest.mark.parametrize(
        "url",
        [
            "http://hooks.example.com/in",
            "ftp://hooks.example.com/in",
            "https://127.0.0.1/in",
            "https://localhost:8443/in",
            "https://10.1.2.3/in",
            "https://192.168.0.10/in",
            "https://172.16.5.4/in",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/in",
            "https://[fd00:ec2::254]/in",
            "https://[::ffff:127.0.0.1]/in",
            "https://0.0.0.0/in",
            "https://100.100.100.200/in",
            "https://user:pw@hooks.example.com/in",
            "not a url",
        ],
    )
    def test_it_refuses_bad_targets(self, api_client: Any, url: str) -> None:
        response = _create(api_client, url, ["invoice.paid"])
        assert response.status_code == 400
        assert response.json()["error"]["field"] == "url"
        assert not WebhookEndpoint.objects.exists()

    def test_it_refuses_a_name_that_resolves_to_a_private_address(
        self, api_client: Any, monkeypatch: Any
    ) -> None:
        monkeypatch.setattr(socket, "getaddrinfo", _resolving_to("10.0.0.7"))
        response = _create(api_client, "https://internal.example.com/in", ["invoice.paid"])
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_url"

    def test_it_allows_local_targets_with_the_setting(
        self, api_client: Any, private_targets: None
    ) -> None:
        assert _create(api_client, "http://127.0.0.1:8899/in", ["invoice.paid"]).status_code == 201

    def test_it_rotates_the_secret_with_an_overlap(
        self, api_client: Any, tenant: Company, private_targets: None
    ) -> None:
        created = _create(api_client, "https://hooks.example.com/in", ["invoice.paid"]).json()
        rotated = api_client.post(f"/api/v1/webhook-endpoints/{created['id']}/rotate-secret")
        assert rotated.status_code == 200
        new = rotated.json()["secret"]
        assert new.startswith("whsec_") and new != created["secret"]
        endpoint = WebhookEndpoint.objects.get(public_id=created["id"])
        now = timezone.now()
        assert services.endpoint_signing_secrets(endpoint, now=now) == [new, created["secret"]]
        later = now + dt.timedelta(hours=25)
        assert services.endpoint_signing_secrets(endpoint, now=later) == [new]


def _resolving_to(address: str) -> Any:
    def fake(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port or 443))]

    return fake


@pytest.mark.django_db(transaction=True)
def test_a_local_receiver_gets_signed_views_and_payments(
    api_client: Any, tenant: Company, receiver: Receiver, private_targets: None, client: Any
) -> None:
    created = _create(api_client, receiver.url, ["invoice.viewed", "payment.succeeded"]).json()
    secret = created["secret"]
    invoice = factories.make_invoice(tenant)
    token = factories.share_token(invoice)

    page = client.get(f"/invoice/{token}", HTTP_USER_AGENT=BROWSER, REMOTE_ADDR="198.51.100.7")
    assert page.status_code == 200
    payment_services.payment_record(
        company=tenant,
        received=payment_services.ReceivedPayment(
            intent_id="pi_test_1",
            amount=invoice.total,
            currency="usd",
            invoice_public_id=invoice.public_id,
        ),
        source="webhook",
    )

    assert [body["type"] for body in receiver.bodies()] == ["invoice.viewed", "payment.succeeded"]
    for headers, body in receiver.received:
        assert verify_standard_webhook(secret, headers, body)
        assert not verify_standard_webhook(secret, headers, body + b" ")
        assert headers["webhook-id"] == json.loads(body)["id"]
        assert headers["content-type"] == "application/json"
    viewed, paid = receiver.bodies()
    assert viewed["data"]["id"] == invoice.public_id and viewed["data"]["object"] == "invoice"
    assert paid["data"]["object"] == "payment" and paid["data"]["invoice"] == invoice.public_id
    assert paid["data"]["id"].startswith("pay_") and paid["data"]["amount"] == invoice.total
    # Only what the endpoint subscribed to: invoice.paid (the invoice is paid now) is not sent.
    assert WebhookDelivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == 2
    attempt = WebhookAttempt.objects.first()
    assert attempt is not None and attempt.status_code == 200 and attempt.response_excerpt == "ok"


@pytest.mark.django_db(transaction=True)
def test_it_signs_with_both_secrets_during_a_rotation(
    tenant: Company, receiver: Receiver, private_targets: None
) -> None:
    endpoint, old = services.endpoint_create(
        company=tenant, url=receiver.url, events_=["invoice.finalized"]
    )
    new = services.endpoint_secret_rotate(endpoint=endpoint)
    factories.make_invoice(tenant)
    ((headers, body),) = receiver.received
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert verify_standard_webhook(old, headers, body)
    assert verify_standard_webhook(new, headers, body)


@pytest.mark.django_db(transaction=True)
def test_it_retries_with_back_off_then_disables_and_tells_the_company(
    tenant: Company, receiver: Receiver, private_targets: None
) -> None:
    tenant.email = "owner@tenant.example"
    tenant.save(update_fields=["email"])
    receiver.status = 500
    endpoint, _ = services.endpoint_create(
        company=tenant, url=receiver.url, events_=["invoice.finalized"]
    )
    before = timezone.now()
    factories.make_invoice(tenant)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1
    assert delivery.last_status_code == 500
    assert delivery.next_attempt_at is not None
    assert before + dt.timedelta(seconds=4) < delivery.next_attempt_at
    attempt = WebhookAttempt.objects.get()
    assert (attempt.status_code, attempt.response_excerpt) == (500, "receiver broke")
    assert attempt.duration_ms >= 0 and not attempt.succeeded

    # Each retry waits longer; the periodic sweep sends the due ones.
    waits = []
    for _ in range(len(services.RETRY_DELAYS)):
        delivery.refresh_from_db()
        assert delivery.next_attempt_at is not None
        waits.append(delivery.next_attempt_at - timezone.now())
        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        from invoices.webhooks.tasks import deliver_due_task

        deliver_due_task()
    assert waits[-2] > waits[1] > waits[0]
    assert sum(services.RETRY_DELAYS, dt.timedelta()) >= dt.timedelta(hours=23)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == len(services.RETRY_DELAYS) + 1 == len(receiver.received)
    endpoint.refresh_from_db()
    assert not endpoint.is_active and endpoint.disabled_at is not None
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["owner@tenant.example"]
    assert endpoint.url in mail.outbox[0].body
    # Disabled: nothing more is sent.
    factories.make_invoice(tenant)
    assert len(receiver.received) == len(services.RETRY_DELAYS) + 1

    # Fixed and enabled again, the failed delivery can be resent.
    receiver.status = 204
    services.endpoint_enable(endpoint=endpoint)
    services.delivery_resend(delivery=delivery)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED


@pytest.mark.django_db(transaction=True)
def test_it_checks_the_address_again_at_delivery(
    tenant: Company, monkeypatch: Any, receiver: Receiver
) -> None:
    """A name that was public when the endpoint was made and points inside later (DNS
    rebinding) is refused at delivery, and nothing is sent."""
    monkeypatch.setattr(socket, "getaddrinfo", _resolving_to("93.184.216.34"))
    services.endpoint_create(
        company=tenant,
        url=f"https://rebind.example.com:{receiver.port}/in",
        events_=["invoice.finalized"],
    )
    monkeypatch.setattr(socket, "getaddrinfo", _resolving_to("127.0.0.1"))
    factories.make_invoice(tenant)
    attempt = WebhookAttempt.objects.get()
    assert attempt.status_code is None and "private address" in attempt.error
    assert receiver.received == []


@pytest.mark.django_db
def test_it_writes_nothing_when_no_endpoint_listens(tenant: Company) -> None:
    from invoices.webhooks.models import WebhookEvent

    services.endpoint_create(
        company=tenant, url="https://hooks.example.com/x", events_=["payment.refunded"]
    )
    factories.make_invoice(tenant)
    assert not WebhookEvent.objects.exists()
    with pytest.raises(ValueError):
        services.event_emit(company=tenant, type="invoice.exploded", object_id="x", data={})


@pytest.mark.django_db
def test_the_admin_shows_the_log_and_resends(
    client: Any, tenant: Company, staff: Any, outsider: Any, monkeypatch: Any
) -> None:
    endpoint, _ = services.endpoint_create(
        company=tenant, url="https://hooks.example.com/x", events_=["invoice.finalized"]
    )
    monkeypatch.setattr(services, "_queue", lambda ids, countdown=0: None)
    invoice: Invoice = factories.make_invoice(tenant, status="draft")
    from invoices.services import invoice_finalize

    invoice_finalize(invoice=invoice)
    delivery = WebhookDelivery.objects.get()
    client.force_login(staff)
    assert client.get("/admin/webhooks/webhookendpoint/").status_code == 200
    assert client.get(f"/admin/webhooks/webhookendpoint/{endpoint.pk}/change/").status_code == 200
    page = client.get(f"/admin/webhooks/webhookdelivery/{delivery.pk}/change/")
    assert page.status_code == 200 and "invoice.finalized" in page.content.decode()
    response = client.post(
        "/admin/webhooks/webhookdelivery/",
        {"action": "resend", "_selected_action": [delivery.pk]},
    )
    assert response.status_code == 302
    client.force_login(outsider)
    assert client.get(f"/admin/webhooks/webhookdelivery/{delivery.pk}/change/").status_code == 404


def test_a_batch_of_events_reads_the_subscriptions_once_and_forgets_them_on_a_change(
    tenant: Any,
) -> None:
    from django.core.cache import cache

    from invoices.webhooks.services import (
        _subscriptions_key,
        subscribed_types,
        subscriptions_changed,
        subscriptions_read_once,
    )

    cache.set(_subscriptions_key(tenant.pk), ["invoice.viewed"], 60)
    with subscriptions_read_once():
        assert subscribed_types(company_id=tenant.pk) == {"invoice.viewed"}
        # Another process changes the cached list: this batch keeps the list it read.
        cache.set(_subscriptions_key(tenant.pk), ["invoice.paid"], 60)
        assert subscribed_types(company_id=tenant.pk) == {"invoice.viewed"}
        # A change made in this batch is seen at once (read again from the endpoints: none).
        subscriptions_changed(company_id=tenant.pk)
        assert subscribed_types(company_id=tenant.pk) == frozenset()
    cache.set(_subscriptions_key(tenant.pk), ["invoice.paid"], 60)
    assert subscribed_types(company_id=tenant.pk) == {"invoice.paid"}
