"""View-tracking benchmark: prints what recording a view costs the invoice page, written
directly and buffered, and the ratio of the two overheads, in one run.

    DATABASE_URL=postgres://… REDIS_URL=redis://… .venv/bin/python bench/bench_tracking.py [--rounds 300]

Alternating, in one process (GET /invoice/<token> through Django):

1. The page opened by a new viewer each time, the open written in the request (direct).
2. The same, the open buffered in Redis (the request's share of buffered tracking); every 50
   rounds the buffer is flushed in this process and timed: the worker's share, per view.
3. The page opened by one viewer in a refresh storm, past the record limit: tracking checks the
   cache and writes nothing. The anchor: the difference to it is what tracking costs the page.

Prints each overhead (share of the page's time) and buffered / direct. Target: the buffered
overhead, the flush's share included, at most 15% (direct one-row-per-view tracking measured
19-23% of throughput, buffered 11-12%, shared/performance.md) and below the direct one. Needs
PostgreSQL and Redis for the buffered path (else only the direct write is measured); the
bench's rows are deleted at the end. Measurements alternate between the paths and report
medians, so a neighbour process on a shared machine skews every side alike.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time
from collections.abc import Callable

from benchenv import setup

_tmp = setup("tracking")

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from invoices.models import Company, Invoice  # noqa: E402
from portal_project.celery import app  # noqa: E402
from tests import factories  # noqa: E402
from tracking.buffer import buffer_available, buffer_length  # noqa: E402
from tracking.models import ViewRecord  # noqa: E402
from tracking.services import views_flush  # noqa: E402

BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
_addresses = (f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}" for n in itertools.count(1))
FLUSH_EVERY = 50


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=300)
    rounds = parser.parse_args().rounds
    call_command("migrate", verbosity=0)
    buffered_too = buffer_available() and connection.vendor == "postgresql"
    company = factories.make_company(slug=f"bench-tracking-{os.getpid()}")
    try:
        invoice = factories.make_invoice(company, lines=10)
        token = factories.share_token(invoice)
        # The flush runs where this script says (below), not inline after the push: the flush
        # task a push queues is published to Redis as in production (a later worker finds
        # nothing left to do).
        app.conf.task_always_eager = False
        client = Client()

        def page(*, buffered: bool, address: str | None = None) -> Callable[[], object]:
            def run() -> object:
                settings.TRACKING_BUFFERED = buffered
                response = client.get(
                    f"/invoice/{token}",
                    HTTP_USER_AGENT=BROWSER,
                    REMOTE_ADDR=address or next(_addresses),
                )
                assert response.status_code == 200
                return response

            return run

        flush_seconds, flushed = 0.0, 0

        def flush() -> None:
            nonlocal flush_seconds, flushed
            start = time.perf_counter()
            flushed += views_flush(consumer="bench")
            flush_seconds += time.perf_counter() - start

        for _ in range(30):  # warm up templates and connections; fill the storm's record limit
            page(buffered=False)()
            page(buffered=False, address="192.0.2.1")()
            if buffered_too:
                page(buffered=True)()
        if buffered_too:
            views_flush(consumer="bench")
        direct, buffered, storm = [], [], []
        for n in range(rounds):
            direct.append(timed(page(buffered=False)))
            storm.append(timed(page(buffered=False, address="192.0.2.1")))
            if buffered_too:
                buffered.append(timed(page(buffered=True)))
                if (n + 1) % FLUSH_EVERY == 0:
                    flush()
        if buffered_too:
            flush()
            assert buffer_length() == 0
        written = ViewRecord.objects.filter(invoice=invoice).count()
    finally:
        app.conf.task_always_eager = True
        Invoice.objects.filter(company=company).delete()
        company.customers.all().delete()
        Company.objects.filter(pk=company.pk).delete()

    db = "PostgreSQL" if connection.vendor == "postgresql" else "SQLite"
    print(f"database: {db}; cache: {'Redis' if os.environ.get('REDIS_URL') else 'in-process'}")
    storm_ms = statistics.median(storm) * 1000
    direct_ms = statistics.median(direct) * 1000
    direct_share = max(direct_ms - storm_ms, 0) / direct_ms
    print(f"invoice page, refresh storm (nothing written):   {storm_ms:.2f} ms median")
    print(f"invoice page, new viewer, written directly:      {direct_ms:.2f} ms median")
    print(f"rows written: {written} (the storm stopped writing at the record limit)")
    print(f"direct write's overhead:                          {direct_share:.1%} of the page")
    if not buffered_too:
        print("buffered: not measured (needs REDIS_URL and a PostgreSQL DATABASE_URL)")
        return 0 if direct_share <= 0.15 else 1
    buffered_ms = statistics.median(buffered) * 1000
    flush_ms = flush_seconds * 1000 / max(flushed, 1)
    request_share = max(buffered_ms - storm_ms, 0) / buffered_ms
    total_share = max(buffered_ms + flush_ms - storm_ms, 0) / (buffered_ms + flush_ms)
    print(f"invoice page, new viewer, buffered:              {buffered_ms:.2f} ms median")
    print(f"flush, per view (batches of {FLUSH_EVERY}, in the worker):     {flush_ms:.3f} ms")
    print(f"buffered overhead, request only:                  {request_share:.1%} of the page")
    print(f"buffered overhead, with the flush's share:        {total_share:.1%} of the page")
    ratio = total_share / direct_share if direct_share else float("nan")
    print(
        f"buffered / direct overhead: {ratio:.2f} with the flush "
        f"({request_share / direct_share if direct_share else float('nan'):.2f} request only); "
        "target: buffered <= 15% and below direct"
    )
    return 0 if total_share <= 0.15 and total_share < direct_share else 1


if __name__ == "__main__":
    sys.exit(main())
