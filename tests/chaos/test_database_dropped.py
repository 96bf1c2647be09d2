"""PostgreSQL sessions dropped under a running server (what a database restart or failover
does to an application): the production WSGI server (granian, as in docker-compose.yml) keeps
persistent connections; the test terminates this test database's sessions with
``pg_terminate_backend`` (never the shared server itself) and, for an outage, refuses new
connections to it for a while (``ALLOW_CONNECTIONS false``).

- Requests after the sessions were dropped succeed: Django checks a reused connection before
  a request (``CONN_HEALTH_CHECKS``) and opens a new one.
- A Stripe webhook delivered during the outage answers non-2xx, writes nothing, and Stripe's
  retry after it stores and applies it once.
- A webhook whose processing is cut mid-transaction leaves nothing half-written: the payment
  is not recorded, the event is still pending, and the periodic pick-up applies it once.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from invoices.models import Company, Invoice, InvoiceStatus
from payments import services, webhooks
from payments.models import Payment, StripeConnection, WebhookEvent, WebhookEventStatus
from payments.stripe_client import API_VERSION
from stripe_emulator.webhooks import sign
from tests import factories
from tests.chaos.conftest import (
    ROOT,
    RowLock,
    database_url,
    sessions_waiting_on_a_lock,
    wait_until,
)
from tests.payments.conftest import SECRET_KEY, WEBHOOK_SECRET

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _request(url: str, data: bytes | None = None, **headers: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, headers=headers)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=30) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()


@pytest.fixture
def server() -> Iterator[str]:
    """granian serving the app on the test database, as docker-compose.yml runs it."""
    if connection.vendor != "postgresql":
        pytest.skip("chaos tests need PostgreSQL (sessions to terminate)")
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DEBUG": "0",
        "SECRET_KEY": settings.SECRET_KEY,
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        # Webhook processing runs in the request (as the test's eager Celery does), so what a
        # dropped session interrupts is visible here.
        "CELERY_TASK_ALWAYS_EAGER": "1",
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen(
        [
            os.path.join(os.path.dirname(sys.executable), "granian"),
            "--interface",
            "wsgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--blocking-threads",
            "2",
            "portal_project.wsgi:application",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if process.poll() is not None:
            raise AssertionError("the server exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            return False

    try:
        wait_until(up, timeout=60, what="the server")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


def _maintenance_connection() -> psycopg.Connection[Any]:
    # The server's maintenance database: a database cannot refuse its own sessions, and this
    # one stays reachable during the test database's outage.
    url = database_url().replace("postgres://", "postgresql://").rsplit("/", 1)[0]
    return psycopg.connect(f"{url}/postgres", autocommit=True)


def _terminate_sessions(*, keep: tuple[int, ...] = ()) -> int:
    """End every session of the test database but the test's own; how many there were.
    Returns once each has ended (up to 5 s each): ``pg_terminate_backend`` alone only signals
    the backend, and a page asked for while one is still on its way out is a page served in the
    middle of a restart, not after it."""
    with _maintenance_connection() as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> ALL(%s) AND backend_type = 'client backend'",
            [
                connection.settings_dict["NAME"],
                [*keep, connection.connection.info.backend_pid],
            ],
        ).fetchall()
    return len(rows)


def _allow_connections(allowed: bool) -> None:
    name = connection.settings_dict["NAME"]
    with _maintenance_connection() as conn:
        conn.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS {str(allowed).lower()}')


@pytest.fixture
def outage() -> Iterator[Callable[[], None]]:
    """Start an outage of the test database; it always ends with the test."""

    def start() -> None:
        _allow_connections(False)
        _terminate_sessions()

    try:
        yield start
    finally:
        _allow_connections(True)


def _pages(base: str, token: str, count: int) -> list[int]:
    return [_request(f"{base}/invoice/{token}")[0] for _ in range(count)]


def _completed_event(invoice: Invoice) -> dict[str, Any]:
    return {
        "id": "evt_pg_1",
        "object": "event",
        "api_version": API_VERSION,
        "type": "checkout.session.completed",
        "created": int(time.time()),
        "data": {
            "object": {
                "id": "cs_pg_1",
                "object": "checkout.session",
                "payment_status": "paid",
                "payment_intent": "pi_pg_1",
                "amount_total": 10000,
                "currency": invoice.currency,
                "metadata": {"invoice": invoice.public_id},
            }
        },
    }


def _deliver(base: str, connected: StripeConnection, event: dict[str, Any]) -> int:
    payload = json.dumps(event).encode()
    return _request(
        f"{base}{services.webhook_path(connected)}",
        payload,
        **{
            "Content-Type": "application/json",
            "Stripe-Signature": sign(payload, WEBHOOK_SECRET, int(time.time())),
        },
    )[0]


@pytest.fixture
def paid_setup(tenant: Company) -> tuple[Invoice, StripeConnection]:
    connected = services.stripe_connection_save(
        company=tenant, secret_key=SECRET_KEY, webhook_secret=WEBHOOK_SECRET
    )
    invoice = factories.make_invoice(tenant, lines=[("Work", "1", 10000, "0")])
    return invoice, connected


def test_requests_after_the_sessions_were_terminated_succeed(server: str, tenant: Company) -> None:
    token = factories.share_token(factories.make_invoice(tenant, lines=1))
    assert _pages(server, token, 6) == [200] * 6
    # The server's persistent connections (CONN_MAX_AGE) are among them.
    assert _terminate_sessions() >= 1
    started = time.monotonic()
    assert _pages(server, token, 6) == [200] * 6
    print(f"six pages after the sessions were dropped: {time.monotonic() - started:.2f} s")


def test_a_webhook_during_an_outage_is_refused_and_applied_once_when_stripe_retries(
    server: str,
    paid_setup: tuple[Invoice, StripeConnection],
    outage: Callable[[], None],
) -> None:
    invoice, connected = paid_setup
    token = factories.share_token(invoice)
    assert _pages(server, token, 2) == [200, 200]
    event = _completed_event(invoice)
    outage()
    started = time.monotonic()
    refused = _deliver(server, connected, event)
    elapsed = time.monotonic() - started
    # Not 2xx: Stripe delivers it again later. A page answers an error too, at once.
    assert refused >= 500, refused
    assert _pages(server, token, 1)[0] >= 500
    print(f"webhook during the outage: {refused} in {elapsed:.2f} s")
    assert elapsed < 10
    _allow_connections(True)

    # Stripe's retries: the pool may still be backing off its reconnection attempts (1 s,
    # 2 s...) for a few seconds after the database is back, and a refused retry is retried.
    answers = []
    deadline = time.monotonic() + 30
    while not answers or (answers[-1] != 200 and time.monotonic() < deadline):
        answers.append(_deliver(server, connected, event))
        if answers[-1] != 200:
            time.sleep(1)
    assert answers[-1] == 200, answers
    print(f"Stripe's retries after the outage: {answers}")
    assert _deliver(server, connected, event) == 200  # and a duplicate of it
    assert WebhookEvent.objects.get().status == WebhookEventStatus.PROCESSED
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.PAID, 10000)
    assert Payment.objects.count() == 1
    assert _pages(server, token, 2) == [200, 200]


def test_processing_cut_mid_transaction_leaves_nothing_half_written(
    server: str, paid_setup: tuple[Invoice, StripeConnection]
) -> None:
    invoice, connected = paid_setup
    lock = RowLock(Invoice._meta.db_table, invoice.pk)
    answers: list[int] = []
    try:
        import threading

        delivery = threading.Thread(
            target=lambda: answers.append(_deliver(server, connected, _completed_event(invoice)))
        )
        delivery.start()
        # The server stored the event and is applying it: its session waits for the invoice.
        waiting = wait_until(sessions_waiting_on_a_lock, timeout=30, what="the processing")
        lock_pid = lock.conn.info.backend_pid
        assert _terminate_sessions(keep=(lock_pid,)) >= len(waiting)
        delivery.join(timeout=30)
    finally:
        lock.release()
    # Stored before the cut (answered 200: Stripe need not retry), applied not at all.
    assert answers == [200]
    event = WebhookEvent.objects.get()
    assert event.status == WebhookEventStatus.PENDING
    assert not Payment.objects.exists()
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.OPEN, 0)

    # The periodic pick-up (every minute, for events pending over a minute) applies it once.
    WebhookEvent.objects.update(received_at=event.received_at - dt.timedelta(minutes=2))
    assert webhooks.webhook_events_unprocessed(older_than=dt.timedelta(minutes=1)) == [event.pk]
    assert webhooks.webhook_event_process(event_pk=event.pk) == WebhookEventStatus.PROCESSED
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.PAID, 10000)
    assert Payment.objects.count() == 1
    assert _pages(server, factories.share_token(invoice), 2) == [200, 200]
