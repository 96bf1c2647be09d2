"""Customer-page benchmark under realistic traffic: the invoice page and the account home
against two anchors served by the same server process in the same run.

    .venv/bin/python bench/bench_pages.py [--duration 10] [--rounds 1] [--threads 8] [--skip-targets]

    BENCH_PAGES_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/bench_pages) and
    BENCH_PAGES_REDIS_URL (default redis://127.0.0.1:6379/14, emptied each round) choose where;
    the server listens on the first free port of 8740-8749.

1. Makes sure the database holds the dataset (bench/bulkdata.py, built with bulk SQL on the
   first run and kept): 11,500 invoices of 1,101 customers, each with a share link.
2. Each round empties this benchmark's own Redis database (cold caches, no rate-limit counts)
   and the tracking tables (so a first view is one, in every run),
   starts a Celery worker and beat (production settings) and granian (WSGI, 2 workers x --threads
   threads, DEBUG off, rate limits on, TRUSTED_PROXY_COUNT=1) on bench/bench_pages_app.py.
3. wrk (bench/rotate.lua) puts 32 connections on each URL, every request for the next of
   1,000 distinct share links (or portal links) and from a new client address
   (X-Forwarded-For), so view tracking writes and caches behave as under real traffic:
   - invoice / portal, first view: one pass over 1,000 links nobody asked for since the
     server started, the caches empty (cut short after twice --duration on a slow page);
   - then --duration seconds each, in --slices alternating slices (so a neighbour's load that
     comes and goes weighs on each alike): plain (``/bench/plain``, a plain HttpResponse
     through the same middleware); invoice / portal warm (the links the first view reached,
     again); bare (``/bench/bare/<token>`` over the same 1,000 share links, a two-query
     Django page).
   Before measuring, other links (not among the 1,000) warm the code paths up.

Prints req/s, p50, p99, each row's ratio to plain and to bare, and checks the targets:
invoice and portal warm >= 0.10 of plain and >= 1.0x bare, first view >= 0.05 of plain, p99 of
the warm pages <= 150 ms (the first views' p99 is printed, not checked: a single pass over cold
caches where every request renders), no error response. Exit status 1 when one is missed (--skip-targets:
print only). The load generator shares the two cores with the server: absolute figures are
lower bounds, the ratios are what to compare.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

# Their own database and Redis database, whatever DATABASE_URL and REDIS_URL say: each round
# empties that Redis database.
os.environ["DATABASE_URL"] = os.environ.get(
    "BENCH_PAGES_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_pages"
)
os.environ["REDIS_URL"] = os.environ.get("BENCH_PAGES_REDIS_URL", "redis://127.0.0.1:6379/14")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal_project.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789abcdef0123456789")
os.environ["DEBUG"] = "0"
os.environ["SECURE_SSL_REDIRECT"] = "0"
os.environ["ALLOWED_HOSTS"] = "127.0.0.1,localhost,testserver"
# The app sits behind one proxy that appends the client's address (Caddyfile).
os.environ["TRUSTED_PROXY_COUNT"] = "1"
os.environ.setdefault("LOG_LEVEL", "WARNING")
_tmp = tempfile.TemporaryDirectory(prefix="bench-pages-")
# The templates' receipt email and PDFs, built once, go to files nobody reads.
os.environ["EMAIL_URL"] = f"file://{_tmp.name}/mail"
os.environ["MEDIA_ROOT"] = f"{_tmp.name}/media"
# Rate limits stay as in production (RATELIMIT_ENABLE defaults to on).
os.environ.pop("RATELIMIT_ENABLE", None)

import bulkdata  # noqa: E402
import servers  # noqa: E402

CUSTOMERS = 1_100
PER_CUSTOMER = 10
ROTATION = 1_000
WARMUP_LINKS = 100
CONNECTIONS = 32
WRK_THREADS = 2
PORTS = (8740, 8749)
LUA = HERE / "rotate.lua"
ROWS = (
    "plain",
    "invoice, first view",
    "portal, first view",
    "invoice, warm",
    "portal, warm",
    "bare 2-query page",
)

WARM_TO_PLAIN = 0.10
WARM_TO_BARE = 1.0
FIRST_TO_PLAIN = 0.05
P99_MS = 150.0


@dataclass(frozen=True)
class Load:
    rate: float
    p50_ms: float
    p99_ms: float
    requests: int
    bad: int  # non-2xx answers and socket errors
    detail: str
    seconds: float


_runs = itertools.count()


def combine(loads: list[Load]) -> Load:
    """One row from its slices: requests over time, the median p50, the worst p99."""
    seconds = sum(load.seconds for load in loads)
    requests = sum(load.requests for load in loads)
    return Load(
        rate=requests / seconds,
        p50_ms=statistics.median(load.p50_ms for load in loads),
        p99_ms=max(load.p99_ms for load in loads),
        requests=requests,
        bad=sum(load.bad for load in loads),
        detail="; ".join(load.detail for load in loads if load.detail),
        seconds=seconds,
    )


def report(label: str, load: Load, note: str = "") -> None:
    print(
        f"  {label:<22}{load.rate:>9.0f} req/s  p50 {load.p50_ms:7.1f} ms  "
        f"p99 {load.p99_ms:7.1f} ms  ({load.requests} requests{note})",
        flush=True,
    )


def run_wrk(base: str, paths: Path, *, seconds: float, once: bool = False) -> Load:
    argv = [
        "wrk",
        f"-t{WRK_THREADS}",
        f"-c{CONNECTIONS}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        base + "/",
        "--",
        str(paths),
        "once" if once else "loop",
        str(WRK_THREADS),
        # Client addresses never repeat between runs (a warm round is not a refresh).
        str(next(_runs)),
    ]
    out = subprocess.run(argv, capture_output=True, text=True, check=False)
    line = re.search(r"^rotate: (.*)$", out.stdout, re.MULTILINE)
    if out.returncode != 0 or line is None:
        sys.exit(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    fields = {k: int(v) for k, v in (pair.split("=") for pair in line.group(1).split())}
    bad = (
        fields["s3xx"]
        + fields["s4xx"]
        + fields["s5xx"]
        + fields["connect"]
        + fields["read"]
        + fields["write"]
        + fields["timeout"]
    )
    detail = ""
    if bad:
        detail = (
            f"3xx {fields['s3xx']}, 4xx {fields['s4xx']}, 5xx {fields['s5xx']}, socket errors "
            f"{fields['connect'] + fields['read'] + fields['write']}, timeouts {fields['timeout']}"
        )
    # A pass that ended before wrk's duration: its own time (see rotate.lua).
    seconds_spent = min(fields["duration_us"], fields["elapsed_us"]) / 1e6
    return Load(
        rate=fields["requests"] / seconds_spent,
        p50_ms=fields["p50_us"] / 1000,
        p99_ms=fields["p99_us"] / 1000,
        requests=fields["requests"],
        bad=bad,
        detail=detail,
        seconds=seconds_spent,
    )


def write_paths(folder: Path, name: str, paths: list[str]) -> Path:
    target = folder / f"{name}.txt"
    target.write_text("\n".join(paths) + "\n")
    return target


def check(base: str, path: str, expect: bytes) -> None:
    request = urllib.request.Request(base + path, headers={"X-Forwarded-For": "192.0.2.1"})
    with urllib.request.urlopen(request, timeout=30) as response:
        body = response.read()
    if expect not in body:
        sys.exit(f"{path} answered without {expect!r}:\n{body[:500]!r}")


def links(dataset: bulkdata.Dataset) -> dict[str, list[str]]:
    """The paths of each kind; ``expect_*``: what the first three warm-up pages must show."""
    measured = list(range(1, ROTATION + 1))
    warmup = list(range(ROTATION + 1, ROTATION + WARMUP_LINKS + 1))
    invoice = [bulkdata.invoice_token(i) for i in bulkdata.invoice_ids(dataset, measured)]
    invoice_warmup = [bulkdata.invoice_token(i) for i in bulkdata.invoice_ids(dataset, warmup)]
    return {
        "plain": ["/bench/plain"],
        "invoice": [f"/invoice/{t}" for t in invoice],
        "portal": [f"/portal/{bulkdata.portal_token(c)}" for c in bulkdata.customer_ids(measured)],
        "bare": [f"/bench/bare/{t}" for t in invoice],
        "invoice_warmup": [f"/invoice/{t}" for t in invoice_warmup],
        "portal_warmup": [
            f"/portal/{bulkdata.portal_token(c)}" for c in bulkdata.customer_ids(warmup)
        ],
        "bare_warmup": [f"/bench/bare/{t}" for t in invoice_warmup],
        # Each page shows its own invoice and customer (a cache keyed too loosely would not).
        "expect_invoice": [bulkdata.invoice_number(dataset, n) for n in warmup[:3]],
        "expect_customer": [f"Customer {n}" for n in warmup[:3]],
    }


def tracking_reset() -> None:
    """Forget every view of an earlier run or round, so a first view is one: the tracking
    app's tables emptied (whatever tables it has)."""
    from django.apps import apps
    from django.db import connection

    tables = [model._meta.db_table for model in apps.get_app_config("tracking").get_models()]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)}")  # names from the models
    connection.close()


def one_round(args: argparse.Namespace, files: dict[str, Path]) -> dict[str, Load]:
    """One server start: no view recorded, cold caches, then every measurement in turn."""
    tracking_reset()
    servers.redis_flush(os.environ["REDIS_URL"])
    port = servers.port_in(*PORTS)
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "PUBLIC_BASE_URL": base,
    }
    worker = servers.celery_worker(env)
    beat = servers.celery_beat(env, schedule=files["plain"].parent / "celerybeat-schedule")
    server = servers.granian_wsgi(
        env,
        port=port,
        workers=2,
        threads=args.threads,
        app="bench.bench_pages_app:application",
        ready_path="/bench/plain",
    )
    results: dict[str, Load] = {}
    try:
        expect = zip(
            files["expect_invoice"].read_text().splitlines(),
            files["expect_customer"].read_text().splitlines(),
            strict=True,
        )
        for n, (number, customer) in enumerate(expect):
            for name in ("bare_warmup", "invoice_warmup", "portal_warmup"):
                path = files[name].read_text().split()[n]
                check(base, path, number.encode())
                check(base, path, customer.encode())
        # Warm-up on other links: imports, template compilation, connections, not our caches.
        for name in ("plain", "bare_warmup", "invoice_warmup", "portal_warmup"):
            run_wrk(base, files[name], seconds=2)
        covered: dict[str, Path] = {}
        for label, name in (("invoice, first view", "invoice"), ("portal, first view", "portal")):
            # One pass over links nobody asked for yet; on a slow page it is cut short after
            # twice --duration.
            load = results[label] = run_wrk(base, files[name], seconds=args.duration * 2, once=True)
            # The warm rows ask again for the links the first view reached (all 1,000 unless
            # the pass was cut short).
            seen = files[name].read_text().split()[: load.requests]
            covered[name] = write_paths(files[name].parent, f"{name}_seen", seen)
            report(label, load, f", {len(seen)} distinct links")
        # The anchors and the warm pages in alternating slices, so a neighbour's load that
        # comes and goes weighs on each alike.
        slices: dict[str, list[Load]] = {}
        for _ in range(args.slices):
            for label, name in (
                ("plain", "plain"),
                ("invoice, warm", "invoice"),
                ("portal, warm", "portal"),
                ("bare 2-query page", "bare"),
            ):
                paths = covered.get(name, files[name])
                load = run_wrk(base, paths, seconds=args.duration / args.slices)
                slices.setdefault(label, []).append(load)
                report(label, load)
        results.update({label: combine(loads) for label, loads in slices.items()})
    finally:
        server_log = server.stop()
        beat.stop()
        worker_log = worker.stop()
    tasks = collections.Counter(re.findall(r"Task ([\w.]+)\[[^\]]*\] succeeded", worker_log))
    print(
        "  the Celery worker ran: "
        + (", ".join(f"{name} x{count}" for name, count in tasks.most_common()) or "no task")
    )
    for name, log in (("granian", server_log), ("celery worker", worker_log)):
        errors = log.count("Traceback")
        if errors:
            print(f"  {name}: {errors} tracebacks in its log; the last:\n{log[-2500:]}")
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=10, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=1, help="server starts (cold caches each)")
    parser.add_argument("--threads", type=int, default=8, help="granian threads per worker")
    parser.add_argument(
        "--slices", type=int, default=2, help="alternating slices of the warm and anchor rows"
    )
    parser.add_argument("--skip-targets", action="store_true", help="print, never fail")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install wrk (Debian).")

    started = time.monotonic()
    bulkdata.ensure_database(os.environ["DATABASE_URL"])
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "1"  # the templates' PDFs, while building
    import django

    django.setup()
    dataset = bulkdata.build(customers=CUSTOMERS, per_customer=PER_CUSTOMER)
    paths = links(dataset)
    from django.db import connections

    connections.close_all()
    print(
        f"Database: {dataset.invoices:,} invoices, {dataset.customers + 1:,} customers; "
        f"rotating over {len(paths['invoice']):,} share links and {len(paths['portal']):,} "
        f"portal links, a new client address per request.",
        flush=True,
    )
    load_before = os.getloadavg()
    rounds: list[dict[str, Load]] = []
    with tempfile.TemporaryDirectory(prefix="bench-pages-") as folder:
        files = {name: write_paths(Path(folder), name, p) for name, p in paths.items()}
        for n in range(args.rounds):
            print(f"Round {n + 1} of {args.rounds}:", flush=True)
            rounds.append(one_round(args, files))
    load_after = os.getloadavg()

    def median(label: str, field: str) -> float:
        return statistics.median(getattr(r[label], field) for r in rounds)

    def ratio(label: str, anchor: str) -> float:
        # Each round's ratio (its anchors ran in the same server process), then the median.
        return statistics.median(r[label].rate / max(r[anchor].rate, 1e-9) for r in rounds)

    print(
        f"\ngranian WSGI, 2 workers x {args.threads} threads, DEBUG off, rate limits on, "
        f"Celery worker (2 processes) and beat; wrk {WRK_THREADS} threads, {CONNECTIONS} connections, "
        f"{args.duration:g} s per row in {args.slices} alternating slices (first view: one "
        f"pass), median of {args.rounds} round(s); "
        f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after"
    )
    print(
        f"{'view':<22}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'/plain':>8}{'/bare':>7}"
        f"{'requests':>10}{'bad':>6}"
    )
    for label in ROWS:
        rate = median(label, "rate")
        bad = sum(r[label].bad for r in rounds)
        print(
            f"{label:<22}{rate:>8.0f}{median(label, 'p50_ms'):>9.1f}"
            f"{median(label, 'p99_ms'):>9.1f}{ratio(label, 'plain'):>8.3f}"
            f"{ratio(label, 'bare 2-query page'):>7.2f}"
            f"{sum(r[label].requests for r in rounds):>10}{bad:>6}"
        )
        for r in rounds:
            if r[label].detail:
                print(f"    {label}: {r[label].detail}")

    checks: list[tuple[str, float, str, float]] = []
    for page in ("invoice", "portal"):
        warm, first = f"{page}, warm", f"{page}, first view"
        checks += [
            (f"{warm} / plain", ratio(warm, "plain"), ">=", WARM_TO_PLAIN),
            (f"{warm} / bare", ratio(warm, "bare 2-query page"), ">=", WARM_TO_BARE),
            (f"{first} / plain", ratio(first, "plain"), ">=", FIRST_TO_PLAIN),
            # p99 of the pages as they are served day to day (the warm rows); a first view's
            # p99 is in the table: one pass over cold caches, every request a first render.
            (f"{warm} p99 ms", median(warm, "p99_ms"), "<=", P99_MS),
        ]
    errors = sum(load.bad for r in rounds for load in r.values())
    checks.append(("error answers and socket errors", float(errors), "<=", 0.0))
    ok = True
    print("targets:")
    for name, value, op, target in checks:
        met = value >= target if op == ">=" else value <= target
        ok = ok and met
        print(f"  {name:<36}{value:>9.3f}  (target {op} {target:g})  {'OK' if met else 'MISSED'}")
    print(f"page benchmark took {time.monotonic() - started:.0f} s")
    if args.skip_targets:
        return 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
