"""Incoming Stripe webhooks: deliveries accepted per second by the production web server and
events processed per second by a real Celery worker with the production settings, with every
event applied exactly once.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/wh_bench REDIS_URL=redis://127.0.0.1:6379/7 \\
      .venv/bin/python bench/bench_webhooks.py [--duration 10] [--invoices 1500] [--port 8771]

1. Creates the database if needed and a company connected to Stripe, then two fresh sets of
   --invoices open invoices (bulk insert). Each invoice gets the three events Stripe sends for a
   paid Checkout: ``checkout.session.completed`` and ``payment_intent.succeeded`` of one
   PaymentIntent (the first to be processed records the payment, the other finds it) and
   ``charge.succeeded`` (a type no handler takes). Every event is delivered twice, shuffled,
   each body signed as Stripe signs it (``stripe_emulator.webhooks.sign``).
2. Starts the production shape on its own port: granian WSGI, 2 workers x 8 threads, DEBUG
   off, ``portal_project.wsgi``; and ``celery worker --concurrency 2 --max-tasks-per-child
   200`` as docker-compose runs it (prefetch 1 and late acknowledgement from the settings).
3. Ingest: wrk (2 threads, 32 connections, a Lua script posting the pre-signed deliveries in
   turn) for --duration seconds while the worker runs: accepted deliveries/s is wrk's rate
   (any answer but 200 fails the run). The events wrk did not reach are posted afterwards.
4. Processing: once the worker's queue is empty (the payments' emails follow the events), the
   worker is stopped, the second set is delivered (a backlog), the worker started again;
   processed events/s is read from the database: the events the worker processed (attempts
   > 0) over the time between the first and the last ``processed_at``.
5. Exactly once, from the database, for both sets: every distinct event stored once and
   processed once (``attempts`` 1, or 0 for the type ignored when stored), one payment per
   PaymentIntent, each invoice paid its amount once with one status change to paid.

Targets: >= 500 accepted deliveries/s and >= 200 processed events/s on this 2-core machine
(wrk, PostgreSQL and Redis share its cores, so the figures are lower bounds). Exit status 1
when a target or the exactly-once check is missed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import servers  # noqa: E402

DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/wh_bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/7"
INGEST_TARGET = 500.0
PROCESS_TARGET = 200.0
CONNECTIONS = 32
SECRET_KEY = "sk_test_bench_webhooks"
WEBHOOK_SECRET = "whsec_bench_webhooks"

os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE)
os.environ.setdefault("REDIS_URL", DEFAULT_REDIS)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal_project.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789abcdef0123456789")
os.environ["DEBUG"] = "0"
os.environ["SECURE_SSL_REDIRECT"] = "0"
os.environ["ALLOWED_HOSTS"] = "127.0.0.1,localhost"
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "0"
os.environ.setdefault("LOG_LEVEL", "WARNING")

# wrk: each thread posts its own share of the deliveries (every ``threads``-th line from its own
# offset; a line is "<signature>\t<body>"), starting again at the top of its share when done.
LUA = r"""
local deliveries = {}
for line in io.lines("%(file)s") do
  local tab = line:find("\t", 1, true)
  deliveries[#deliveries + 1] = {line:sub(1, tab - 1), line:sub(tab + 1)}
end
local threads = {}
function setup(thread)
  thread:set("offset", #threads)
  threads[#threads + 1] = thread
end
function init(args)
  mine = {}
  for i = offset + 1, #deliveries, %(threads)d do mine[#mine + 1] = deliveries[i] end
  sent = 0
end
function request()
  local d = mine[(sent %% #mine) + 1]
  sent = sent + 1
  return wrk.format("POST", "%(path)s", {
    ["Content-Type"] = "application/json",
    ["Stripe-Signature"] = d[1],
  }, d[2])
end
"""


def ensure_database(url: str) -> None:
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("bench_webhooks measures PostgreSQL: set DATABASE_URL=postgres://...")
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def connect() -> Any:
    """The benchmark's company and its Stripe connection (made on the first run)."""
    from django.core.management import call_command

    from invoices import services as invoice_services
    from invoices.models import Company
    from payments import services

    call_command("migrate", verbosity=0)
    company = Company.objects.filter(slug="bench-webhooks").first()
    if company is None:
        company = invoice_services.company_create(
            slug="bench-webhooks", name="Bench Webhooks Ltd", plan="pro"
        )
    return services.stripe_connection_save(
        company=company, secret_key=SECRET_KEY, webhook_secret=WEBHOOK_SECRET
    )


def make_invoices(company: Any, count: int, tag: str) -> list[Any]:
    """``count`` open invoices of 300.00 (bulk insert: the set-up is not what is measured)."""
    from django.db.models import Max
    from django.utils import timezone

    from invoices.models import Customer, Invoice

    customer = Customer.objects.filter(company=company).first() or Customer.objects.create(
        company=company, name="Bench Customer", email="bench@example.com"
    )
    start = (Invoice.objects.filter(company=company).aggregate(m=Max("sequence"))["m"] or 0) + 1
    today = timezone.localdate()
    return Invoice.objects.bulk_create(
        (
            Invoice(
                company=company,
                customer=customer,
                number=f"WH-{tag}-{n}",
                sequence=start + n,
                status="open",
                currency="usd",
                issue_date=today,
                due_date=today + dt.timedelta(days=30),
                subtotal=30000,
                total=30000,
            )
            for n in range(count)
        ),
        batch_size=2000,
    )


def deliveries_file(events: list[dict[str, Any]], directory: str, name: str) -> str:
    """Every event twice, shuffled, signed now."""
    from stripe_emulator.webhooks import sign

    lines = []
    now = int(time.time())
    for event in events * 2:
        body = json.dumps(event, separators=(",", ":"))
        lines.append(f"{sign(body.encode(), WEBHOOK_SECRET, now)}\t{body}")
    random.shuffle(lines)
    path = os.path.join(directory, f"{name}.txt")
    Path(path).write_text("\n".join(lines) + "\n")
    return path


def server_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def start_server(port: int) -> servers.Process:
    """granian as production runs it: WSGI, 2 workers x 8 threads."""
    return servers.granian_wsgi(
        server_env(),
        port=port,
        workers=2,
        threads=8,
        app="portal_project.wsgi:application",
        ready_path="/healthz",
    )


def start_worker() -> servers.Process:
    """The worker as docker-compose runs it (its own hostname, so no other worker's mingle)."""
    return servers.celery_worker(
        server_env(), hostname=f"bench-webhooks-{uuid.uuid4().hex[:6]}@localhost"
    )


def run_wrk(url: str, script: str, seconds: int) -> float:
    """Accepted deliveries per second (every answer must be a 200)."""
    out = subprocess.run(
        ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "-s", script, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Non-2xx" in out:
        sys.exit(f"wrk saw answers other than 200:\n{out}")
    if errors := re.search(r"Socket errors: .*", out):
        print(f"  ({errors.group(0)})")
    # The latency distribution's line (not a "...99%" column of the thread statistics).
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.MULTILINE)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    print(f"  wrk: {rate:.0f} deliveries/s, p99 {p99.group(1) if p99 else '?'}")
    return rate


def lua_script(directory: str, deliveries: str, path: str, name: str) -> str:
    script = os.path.join(directory, f"{name}.lua")
    Path(script).write_text(LUA % {"file": deliveries, "threads": 2, "path": path})
    return script


def wait_processed(tag: str, expected: int, timeout: float) -> None:
    from payments.models import WebhookEvent

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = WebhookEvent.objects.filter(
            event_id__startswith=f"evt_{tag}_", status__in=["processed", "ignored"]
        ).count()
        if done >= expected:
            return
        time.sleep(0.5)
    print(f"  timed out: {done} of {expected} events processed")


def exactly_once(tag: str, invoices: list[Any], stored_events: set[str]) -> list[str]:
    """What differs from every event applied exactly once (empty when all is well)."""
    from invoices.models import Invoice, InvoiceStatusChange
    from payments.models import Payment, WebhookEvent

    problems = []
    rows = list(
        WebhookEvent.objects.filter(event_id__startswith=f"evt_{tag}_").values_list(
            "event_id", "status", "attempts"
        )
    )
    ids = [event_id for event_id, _s, _a in rows]
    if len(ids) != len(set(ids)):
        problems.append("an event was stored twice")
    if set(ids) != stored_events:
        problems.append(f"{len(stored_events - set(ids))} delivered events not stored")
    # (status, processing attempts) by kind; the charge's type is ignored when stored.
    expected = {0: ("processed", 1), 1: ("processed", 1), 2: ("ignored", 0)}
    wrong = [r for r in rows if expected[int(r[0].rsplit("_", 1)[1])] != (r[1], r[2])]
    if wrong:
        problems.append(f"{len(wrong)} events not processed exactly once, e.g. {wrong[:3]}")
    # Only the invoices whose payment events were delivered in this round.
    paid_numbers = {int(e.split("_")[2]) for e in stored_events if not e.endswith("_2")}
    pks = [inv.pk for n, inv in enumerate(invoices) if n in paid_numbers]
    payments = list(
        Payment.objects.filter(invoice_id__in=pks).values_list(
            "provider_payment_intent_id", "amount"
        )
    )
    if len(payments) != len(pks) or len({p for p, _a in payments}) != len(payments):
        problems.append(f"{len(payments)} payments for {len(pks)} paid invoices")
    state = Invoice.objects.filter(pk__in=pks)
    if state.exclude(status="paid").exists() or state.exclude(amount_paid=30000).exists():
        problems.append("an invoice is not paid exactly once")
    changes = InvoiceStatusChange.objects.filter(invoice_id__in=pks, to_status="paid").count()
    if changes != len(pks):
        problems.append(f"{changes} status changes to paid for {len(pks)} invoices")
    return problems


def deliver_missing(url: str, events: list[dict[str, Any]], tag: str) -> int:
    """Post every event the database does not hold yet (16 connections at once), signed now,
    as Stripe retries a delivery; the number posted."""
    import http.client
    import threading
    from urllib.parse import urlsplit

    from payments.models import WebhookEvent
    from stripe_emulator.webhooks import sign

    stored = set(
        WebhookEvent.objects.filter(event_id__startswith=f"evt_{tag}_").values_list(
            "event_id", flat=True
        )
    )
    missing = [e for e in events if e["id"] not in stored]
    parts = urlsplit(url)
    failures: list[int] = []

    def post(share: list[dict[str, Any]]) -> None:
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
        for event in share:
            body = json.dumps(event, separators=(",", ":")).encode()
            signature = sign(body, WEBHOOK_SECRET, int(time.time()))
            conn.request("POST", parts.path, body, {"Stripe-Signature": signature})
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                failures.append(response.status)
        conn.close()

    threads = [threading.Thread(target=post, args=(missing[n::16],)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        sys.exit(f"{len(failures)} deliveries answered {sorted(set(failures))}")
    return len(missing)


def processing_rate(tag: str) -> tuple[float, int, float]:
    """Events the worker processed (attempts > 0: not those ignored when stored) per second,
    from the first to the last processed_at; how many; and all the round's events (those
    ignored when stored too) per second of that span."""
    from django.db.models import Count, Max, Min, Q

    from payments.models import WebhookEvent

    worked = Q(attempts__gt=0)
    span = WebhookEvent.objects.filter(event_id__startswith=f"evt_{tag}_").aggregate(
        first=Min("processed_at", filter=worked),
        last=Max("processed_at", filter=worked),
        n=Count("id", filter=worked),
        total=Count("id"),
    )
    seconds = (span["last"] - span["first"]).total_seconds()
    if seconds <= 0:
        return float("inf"), span["n"], float("inf")
    return (span["n"] - 1) / seconds, span["n"], span["total"] / seconds


def wait_queue_empty(timeout: float) -> None:
    """Until the worker has run every task queued (the payments' emails follow the events)."""
    from portal_project.celery import app

    deadline = time.monotonic() + timeout
    with app.connection_for_write() as conn:
        client = conn.default_channel.client
        while time.monotonic() < deadline:
            if not client.llen("celery") and not client.hlen("unacked"):
                return
            time.sleep(0.5)


def clear_queue() -> None:
    from portal_project.celery import app

    with app.connection_for_write() as conn:
        conn.default_channel.client.delete("celery", "unacked", "unacked_index")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=10, help="seconds of ingest")
    parser.add_argument("--invoices", type=int, default=1500, help="invoices per round")
    parser.add_argument("--port", type=int, default=8771)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("bench_webhooks needs wrk (Debian package wrk)")

    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.db import connections

    from payments import services
    from tests.stripe_events import paid_checkout_events

    connection = connect()
    # Events of an interrupted earlier run would be drained with this run's.
    connection.events.all().delete()
    path = services.webhook_path(connection)
    run = uuid.uuid4().hex[:6]
    ingest_tag, backlog_tag = f"i{run}", f"b{run}"
    ingest_invoices = make_invoices(connection.company, args.invoices, ingest_tag)
    backlog_invoices = make_invoices(connection.company, args.invoices, backlog_tag)
    ingest_events = paid_checkout_events(ingest_invoices, ingest_tag)
    backlog_events = paid_checkout_events(backlog_invoices, backlog_tag)
    connections.close_all()
    clear_queue()

    tmp = tempfile.TemporaryDirectory(prefix="bench-webhooks-")
    url = f"http://127.0.0.1:{args.port}{path}"
    server = start_server(args.port)
    worker = start_worker()
    ok = True
    try:
        print(
            f"{len(ingest_events)} events x 2 deliveries per round; granian WSGI 2 workers x 8 "
            f"threads; celery --concurrency 2; wrk {CONNECTIONS} connections"
        )
        # Warm up the server's processes and threads (imports, database connections).
        health = f"http://127.0.0.1:{args.port}/healthz"
        subprocess.run(["wrk", "-t2", f"-c{CONNECTIONS}", "-d2s", health], capture_output=True)

        print(f"ingest, {args.duration} s (worker running):")
        # Signed now: Stripe's tolerance is five minutes.
        ingest_file = deliveries_file(ingest_events, tmp.name, "ingest")
        ingest_rate = run_wrk(url, lua_script(tmp.name, ingest_file, path, "ingest"), args.duration)
        posted = deliver_missing(url, ingest_events, ingest_tag)
        print(f"  the {posted} events wrk had not reached (or left in flight) posted afterwards")
        wait_processed(ingest_tag, len(ingest_events), timeout=900)

        print("processing (a backlog stored with the worker stopped, then the worker started):")
        wait_queue_empty(timeout=900)
        worker.stop()
        deliver_missing(url, backlog_events, backlog_tag)
        worker = start_worker()
        wait_processed(backlog_tag, len(backlog_events), timeout=900)
        rate, processed, all_rate = processing_rate(backlog_tag)
        print(f"  {processed} events processed by the worker at {rate:.0f} events/s")
        print(
            f"  all {len(backlog_events)} events of the round (those ignored when stored too): "
            f"{all_rate:.0f} events/s of the worker's time"
        )

        connections.close_all()
        for tag, invoices, ids in (
            (ingest_tag, ingest_invoices, {e["id"] for e in ingest_events}),
            (backlog_tag, backlog_invoices, {e["id"] for e in backlog_events}),
        ):
            problems = exactly_once(tag, invoices, ids)
            print(f"exactly once ({tag}): {'OK' if not problems else '; '.join(problems)}")
            ok = ok and not problems
    finally:
        worker.stop()
        server.stop()

    print(
        f"\naccepted deliveries/s: {ingest_rate:.0f} (target >= {INGEST_TARGET:.0f}, "
        f"ratio {ingest_rate / INGEST_TARGET:.2f})"
    )
    print(
        f"processed events/s:    {rate:.0f} (target >= {PROCESS_TARGET:.0f}, "
        f"ratio {rate / PROCESS_TARGET:.2f})"
    )
    ok = ok and ingest_rate >= INGEST_TARGET and rate >= PROCESS_TARGET
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
