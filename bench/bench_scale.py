"""Scale benchmark: a customer's pages cost the same on a 1 M-invoice database as on a 10 k one,
and the exports and the 36-month statement stay under 300 ms.

    .venv/bin/python bench/bench_scale.py [--rounds 15] [--skip-targets]
    (PostgreSQL at BENCH_POSTGRES, default postgres://postgres@127.0.0.1:5432; Redis db 15)

Two databases built with bulk SQL (bench/bulkdata.py; created when missing, kept between runs):
``bench_scale_10k`` (1,000 customers x 10 invoices) and ``bench_scale_1m`` (100,000 x 10, about
1 M invoices, 2 M lines, 0.7 M payments, 1.1 M links; a few minutes on the first run). Both hold
the same measured customer: 500 invoices over 36 months, two thirds paid, five credit notes.

In one process, with the Django test client (the whole stack, DEBUG off, warm caches, every
request from a new client address), each round visits every page once on each database in
turn (the connection switched between them, the cache under a prefix of its own per database),
so a busy machine slows both alike:
the invoice page, the account home (/portal/<token>), its invoices, credit notes and payments
pages, the open-item and the 36-month balance-forward statement, the statement CSV and the
invoice CSV export (500 invoices). Prints the median of each, the 1 M / 10 k ratio (target
<= 1.5x), the SQL query count on each (must be equal), every sequential scan PostgreSQL plans
for those queries on a large table of the 1 M database, and checks the invoice CSV and the
36-month statement (page and CSV) each take under 300 ms. Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

POSTGRES = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432").rstrip("/")
DATABASES = {"10k": ("bench_scale_10k", 1_000), "1M": ("bench_scale_1m", 100_000)}
PER_CUSTOMER = 10

os.environ["DATABASE_URL"] = f"{POSTGRES}/{DATABASES['10k'][0]}"
os.environ["REDIS_URL"] = os.environ.get("BENCH_SCALE_REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal_project.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789abcdef0123456789")
os.environ["DEBUG"] = "0"
os.environ["SECURE_SSL_REDIRECT"] = "0"
os.environ["ALLOWED_HOSTS"] = "testserver"
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "1"
os.environ.setdefault("LOG_LEVEL", "WARNING")
_tmp = tempfile.TemporaryDirectory(prefix="bench-scale-")
os.environ["MEDIA_ROOT"] = f"{_tmp.name}/media"
os.environ["EMAIL_URL"] = f"file://{_tmp.name}/mail"

import bulkdata  # noqa: E402
import servers  # noqa: E402

SCALE_RATIO = 1.5
EXPORT_MS = 300.0
# Pages whose median must stay under EXPORT_MS on both databases.
EXPORTS = ("invoices.csv (500)", "statement 36 months", "statement.csv 36 months")
BIG_TABLE_ROWS = 50_000


def use(label: str) -> None:
    """Point the default connection (and the cache's key prefix) at this label's database."""
    from django.core.cache import cache
    from django.db import connections

    connection = connections["default"]
    connection.close()
    # With Django's connection pool (OPTIONS["pool"]) the pool keeps the database it was
    # opened for: close it too, the next query opens one for the new name.
    close_pool = getattr(connection, "close_pool", None)
    if close_pool is not None:
        close_pool()
    connection.settings_dict["NAME"] = DATABASES[label][0]
    cache.key_prefix = f"scale-{label}"  # type: ignore[attr-defined]


def build_all() -> dict[str, dict[str, str]]:
    """Both databases built; the measured customer's URLs on each."""
    from django.utils import timezone

    from payments.statements import MONTHS_OFFERED, month_start

    pages: dict[str, dict[str, str]] = {}
    for label, (name, customers) in DATABASES.items():
        bulkdata.ensure_database(f"{POSTGRES}/{name}")
        use(label)
        started = time.monotonic()
        dataset = bulkdata.build(customers=customers, per_customer=PER_CUSTOMER)
        print(
            f"{name}: {dataset.invoices:,} invoices, {customers + 1:,} customers "
            f"(ready in {time.monotonic() - started:.1f} s)",
            flush=True,
        )
        from invoices.models import Invoice

        newest = (
            Invoice.objects.filter(customer_id=dataset.big_customer_id)
            .order_by("-issue_date", "-sequence")
            .values_list("id", flat=True)[0]
        )
        portal = f"/portal/{bulkdata.portal_token(dataset.big_customer_id)}"
        today = timezone.localdate()
        months36 = (
            f"type=balance_forward&from={month_start(today, MONTHS_OFFERED).isoformat()}"
            f"&to={today.isoformat()}"
        )
        pages[label] = {
            "invoice page": f"/invoice/{bulkdata.invoice_token(newest)}",
            "account home": portal,
            "invoices": f"{portal}/invoices",
            "credit notes": f"{portal}/credit-notes",
            "payments": f"{portal}/payments",
            "statement (open items)": f"{portal}/statement",
            "statement 36 months": f"{portal}/statement?{months36}",
            "statement.csv 36 months": f"{portal}/statement.csv?{months36}",
            "invoices.csv (500)": f"{portal}/invoices.csv",
        }
    return pages


class Visitor:
    """The test client, each request from a new client address."""

    def __init__(self) -> None:
        from django.test import Client

        self.client = Client()
        self.sent = 0

    def get(self, path: str) -> tuple[float, int, list[str]]:
        """(milliseconds, status, SQL run)."""
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        self.sent += 1
        address = f"198.18.{self.sent // 256 % 256}.{self.sent % 256}"
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = self.client.get(path, REMOTE_ADDR=address)
            elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            sys.exit(f"{path} answered {response.status_code}")
        return elapsed, response.status_code, [q["sql"] for q in queries.captured_queries]


def seq_scans(sql_list: list[str]) -> tuple[int, list[str]]:
    """(queries explained, 'Seq Scan on <table>' lines PostgreSQL plans for them on a large
    table)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relkind = 'r' AND reltuples > %s",
            [BIG_TABLE_ROWS],
        )
        big = {row[0] for row in cursor.fetchall()}
        found = []
        explained = 0
        for sql in sql_list:
            if not sql.lstrip().upper().startswith(("SELECT", "WITH")):
                continue
            try:
                cursor.execute(f"EXPLAIN {sql}")
            except Exception as error:
                found.append(f"(EXPLAIN failed: {error.__class__.__name__}) {sql[:120]}")
                continue
            explained += 1
            for (line,) in cursor.fetchall():
                if "Seq Scan on " in line:
                    table = line.split("Seq Scan on ", 1)[1].split()[0]
                    if table in big:
                        found.append(f"{line.strip()}  <- {sql[:160]}")
    return explained, found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="timed visits of each page")
    parser.add_argument("--skip-targets", action="store_true", help="print, never fail")
    args = parser.parse_args()
    started = time.monotonic()
    for name, _ in DATABASES.values():
        bulkdata.ensure_database(f"{POSTGRES}/{name}")
    import django

    django.setup()
    servers.redis_flush(os.environ["REDIS_URL"])
    pages = build_all()
    visitor = Visitor()
    times: dict[str, dict[str, list[float]]] = {label: {} for label in DATABASES}
    queries: dict[str, dict[str, list[str]]] = {label: {} for label in DATABASES}
    counts: dict[str, dict[str, set[int]]] = {label: {} for label in DATABASES}
    for label in DATABASES:  # warm-up: connections, templates, caches
        use(label)
        for path in pages[label].values():
            for _ in range(3):
                visitor.get(path)
    for _ in range(args.rounds):
        for label in DATABASES:
            use(label)
            visitor.get(pages[label]["account home"])  # absorbs the reconnect
            for page, path in pages[label].items():
                elapsed, _, sql = visitor.get(path)
                times[label].setdefault(page, []).append(elapsed)
                queries[label][page] = sql
                counts[label].setdefault(page, set()).add(len(sql))
    use("1M")
    scans = {page: seq_scans(sql) for page, sql in queries["1M"].items()}

    print(
        f"\nin process (Django test client, DEBUG off, warm), median of {args.rounds} "
        f"interleaved visits; load average {os.getloadavg()[0]:.1f}"
    )
    print(f"{'page':<26}{'10k ms':>9}{'1M ms':>9}{'1M/10k':>8}{'queries 10k / 1M':>18}")
    ok = True
    for page in pages["10k"]:
        small = statistics.median(times["10k"][page])
        large = statistics.median(times["1M"][page])
        ratio = large / small
        q_small = "/".join(str(n) for n in sorted(counts["10k"][page]))
        q_large = "/".join(str(n) for n in sorted(counts["1M"][page]))
        same = counts["10k"][page] == counts["1M"][page] and len(counts["1M"][page]) == 1
        flags = []
        if ratio > SCALE_RATIO:
            flags.append(f"ratio > {SCALE_RATIO}")
        if not same:
            flags.append("query counts differ")
        if page in EXPORTS and max(small, large) > EXPORT_MS:
            flags.append(f"over {EXPORT_MS:g} ms")
        ok = ok and not flags
        print(
            f"{page:<26}{small:>9.1f}{large:>9.1f}{ratio:>8.2f}{q_small:>10} / {q_large:<6}"
            f"{'  ' + ', '.join(flags) if flags else ''}"
        )
    explained = sum(n for n, _ in scans.values())
    print(f"sequential scans of large tables (1M database; {explained} SELECTs explained):")
    any_scan = False
    for page, (_, found) in scans.items():
        for line in found:
            any_scan = True
            print(f"  {page}: {line}")
    if not any_scan:
        print("  none: every query of these pages reads the large tables through an index")
    ok = ok and not any_scan
    print(
        f"targets: 1M / 10k <= {SCALE_RATIO}x for every page, the same query counts, no "
        f"sequential scan of a large table, {', '.join(EXPORTS)} under {EXPORT_MS:g} ms -> "
        f"{'PASS' if ok else 'MISSED'}"
    )
    print(f"scale benchmark took {time.monotonic() - started:.0f} s")
    if args.skip_targets:
        return 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
