"""Customer-page benchmark: the invoice page and the portal against a plain HttpResponse view,
served by the production WSGI server (granian, 2 workers) from PostgreSQL, in one run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_pages \\
    REDIS_URL=redis://127.0.0.1:6379/9 .venv/bin/python bench/bench_pages.py [--duration 10]

1. Makes sure the database holds at least 10,000 invoices (bulk insert on the first run; the
   data stays for the next run): one company, 400 customers, plus the measured customer with
   120 invoices (five portal pages) and the measured invoice with 10 lines.
2. Starts granian (WSGI, 2 workers, DEBUG off) on 127.0.0.1 with bench/bench_pages_app.py, the
   project plus a plain view at /bench/plain.
3. Puts 32 concurrent connections on each URL from loopback for --duration seconds with wrk
   (Debian package; a bounded Python load generator when wrk is missing), in turns:
   plain, invoice, portal. Prints req/s, p99 and each page's ratio to the plain view.

Target: each page reaches at least 0.05 of the plain view (a bare two-query Django page
reaches 0.039 on this kind of machine, see shared/performance.md). The load generator shares
the machine's cores with the server, so absolute figures are lower bounds; the ratio is what
to compare. Exit status 1 when a page misses the target.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/bench_pages"
TARGET_RATIO = 0.05
INVOICES_WANTED = 10_000
CONNECTIONS = 32

os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal_project.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789abcdef0123456789")
os.environ["DEBUG"] = "0"
os.environ["SECURE_SSL_REDIRECT"] = "0"
os.environ["ALLOWED_HOSTS"] = "127.0.0.1,localhost,testserver"
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "1"
os.environ.setdefault("LOG_LEVEL", "WARNING")
# The benchmark measures page rendering, not the rate limiter.
os.environ.setdefault("RATELIMIT_ENABLE", "0")


def ensure_database(url: str) -> None:
    """Create the benchmark's PostgreSQL database if it does not exist yet."""
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("bench_pages measures PostgreSQL: set DATABASE_URL=postgres://...")
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def seed() -> tuple[str, str]:
    """At least 10,000 invoices; returns (invoice path, portal path) of the measured customer."""
    from django.core.management import call_command
    from django.utils import timezone

    from invoices import services
    from invoices.models import Company, Customer, Invoice, LineItem

    call_command("migrate", verbosity=0)
    company = Company.objects.filter(slug="bench-pages").first()
    if company is None:
        company = services.company_create(slug="bench-pages", name="Bench Pages Ltd", plan="pro")
    today = timezone.localdate()
    missing = INVOICES_WANTED - Invoice.objects.filter(company=company).count()
    if missing > 0:
        print(f"Seeding {missing} invoices (bulk insert, first run only)...", flush=True)
        customers = Customer.objects.bulk_create(
            Customer(company=company, name=f"Customer {n}", email=f"c{n}@example.com")
            for n in range(400)
        )
        start = company.next_invoice_sequence + 100_000
        rows = [
            Invoice(
                company=company,
                customer=customers[n % len(customers)],
                number=f"BULK-{start + n}",
                sequence=start + n,
                status="paid" if n % 3 == 0 else "open",
                currency="usd",
                issue_date=today - dt.timedelta(days=n % 400),
                due_date=today - dt.timedelta(days=n % 400) + dt.timedelta(days=30),
                subtotal=30000,
                total=30000,
                amount_paid=30000 if n % 3 == 0 else 0,
            )
            for n in range(missing)
        ]
        created = Invoice.objects.bulk_create(rows, batch_size=2000)
        LineItem.objects.bulk_create(
            (
                LineItem(
                    invoice=inv,
                    position=p,
                    description=f"Item {p}",
                    unit_amount=10000,
                    amount=10000,
                )
                for inv in created
                for p in range(3)
            ),
            batch_size=5000,
        )
    customer = Customer.objects.filter(company=company, email="measured@example.com").first()
    if customer is None:
        customer = services.customer_create(
            company=company, name="Measured Customer", email="measured@example.com"
        )
        for n in range(120):
            lines = [
                services.LineInput(
                    description=f"Consulting, part {p + 1}",
                    quantity=Decimal("1.5"),
                    unit_amount=12_000 + p,
                    tax_rate=Decimal(19),
                )
                for p in range(10 if n == 119 else 2)
            ]
            invoice = services.invoice_create(
                company=company,
                customer=customer,
                currency="usd",
                issue_date=today - dt.timedelta(days=120 - n),
                due_date=today - dt.timedelta(days=90 - n),
                lines=lines,
                notes="Thank you for your business.",
            )
            services.invoice_finalize(invoice=invoice)
    newest = Invoice.objects.filter(customer=customer).order_by("-issue_date", "-sequence")[0]
    invoice_token = services.share_link_token(services.share_link_create(invoice=newest))
    portal_token = services.share_link_token(services.portal_link_create(customer=customer))
    total = Invoice.objects.count()
    print(
        f"Database: {total} invoices; measured invoice has {newest.lines.count()} lines, "
        f"its customer {Invoice.objects.filter(customer=customer).count()} invoices."
    )
    return f"/invoice/{invoice_token}", f"/portal/{portal_token}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(port: int, threads: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "granian"),
            "--interface",
            "wsgi",
            "--workers",
            "2",
            # Python runs one thread at a time, but a thread waiting on PostgreSQL or Redis
            # lets another work; each thread keeps a database connection open (2 x 8 = 16,
            # PostgreSQL allows 100 by default).
            "--blocking-threads",
            str(threads),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
            "bench.bench_pages_app:application",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/bench/plain", timeout=1):
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    sys.exit("granian did not start")


def check(url: str) -> None:
    with urllib.request.urlopen(url, timeout=10) as response:
        if response.status != 200:
            sys.exit(f"{url} answered {response.status}")


def run_wrk(url: str, seconds: int) -> tuple[float, float]:
    """(requests per second, p99 in ms) from wrk."""
    out = subprocess.run(
        ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Non-2xx" in out:
        sys.exit(f"wrk saw error responses on {url}:\n{out}")
    if errors := re.search(r"Socket errors: .*", out):
        # Timeouts happen when the shared machine is saturated; they show in p99 anyway.
        print(f"  ({url.split('/')[3]}: {errors.group(0)})")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    p99 = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return rate, p99


def run_python(url: str, seconds: int) -> tuple[float, float]:
    """A bounded load generator: CONNECTIONS threads, keep-alive, for ``seconds``."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    latencies: list[list[float]] = [[] for _ in range(CONNECTIONS)]
    stop = time.monotonic() + seconds

    def worker(bucket: list[float]) -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        while time.monotonic() < stop:
            start = time.perf_counter()
            conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                raise SystemExit(f"{url} answered {response.status}")
            bucket.append(time.perf_counter() - start)

    threads = [threading.Thread(target=worker, args=(b,)) for b in latencies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    samples = sorted(s for bucket in latencies for s in bucket)
    p99 = samples[int(len(samples) * 0.99) - 1] * 1000 if samples else float("nan")
    return len(samples) / seconds, p99


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=1, help="measure each URL this many times")
    parser.add_argument("--threads", type=int, default=8, help="granian threads per worker")
    args = parser.parse_args()

    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    invoice_path, portal_path = seed()
    from django.db import connections

    connections.close_all()

    load = run_wrk if shutil.which("wrk") else run_python
    port = free_port()
    server = start_server(port, args.threads)
    base = f"http://127.0.0.1:{port}"
    urls = {
        "plain": base + "/bench/plain",
        "invoice": base + invoice_path,
        "portal": base + portal_path,
    }
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in urls}
    try:
        for url in urls.values():
            check(url)
            load(url, 2)  # warm up: connections, template caches, imports
        for _ in range(args.rounds):
            for name, url in urls.items():
                results[name].append(load(url, args.duration))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=10)

    generator = "wrk" if load is run_wrk else "python"
    print(
        f"\ngranian WSGI, 2 workers x {args.threads} threads, {generator}, {CONNECTIONS} connections, "
        f"{args.duration}s x {args.rounds}"
    )
    summary = {
        name: (statistics.median(r for r, _ in rows), statistics.median(p for _, p in rows))
        for name, rows in results.items()
    }
    plain_rate = summary["plain"][0]
    ok = True
    print(f"{'view':<10}{'req/s':>10}{'p99 ms':>10}{'ratio':>9}")
    for name, (rate, p99) in summary.items():
        ratio = rate / plain_rate
        print(f"{name:<10}{rate:>10.0f}{p99:>10.1f}{ratio:>9.3f}")
        if name != "plain" and ratio < TARGET_RATIO:
            ok = False
    print(f"target: each page >= {TARGET_RATIO} of plain -> {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
