"""Invoice PDF benchmark: prints ratios measured in one run.

    .venv/bin/python bench/bench_pdf.py [--rounds 15]

1. A fresh render through our service (load the invoice, fingerprint, render, store) against
   WeasyPrint alone rendering the same HTML with the same stylesheet and fonts. Target: <= 1.15x.
2. A cached download (GET /invoice/<token>/pdf through Django: token lookup, fingerprint, read
   from storage) against a fresh render. Target: >= 20x faster.
3. A 500-line invoice: render time and peak memory.

Runs on a throw-away SQLite database unless DATABASE_URL is set (then on that database: the
rows it creates are deleted at the end); files go to a temporary MEDIA_ROOT. Celery runs eagerly.
Measurements interleave the compared paths, and medians are reported, so a neighbour process
on a shared machine skews both sides alike.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from benchenv import setup

_tmp = setup("pdf")

from django.core.files.storage import default_storage  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

from invoices.models import Company, Invoice  # noqa: E402
from invoices.pdf import render  # noqa: E402
from invoices.pdf.html import invoice_pdf_html  # noqa: E402
from invoices.pdf.services import invoice_pdf_get_or_render  # noqa: E402
from tests import factories  # noqa: E402

LANGUAGE = "en"


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def load(invoice_id: int) -> Invoice:
    return Invoice.objects.select_related("company", "customer").get(pk=invoice_id)


def service_fresh_render(invoice_id: int) -> Callable[[], object]:
    """Our path for a PDF not stored yet: what a download or the worker does."""

    def run() -> object:
        pdf = invoice_pdf_get_or_render(invoice=load(invoice_id), language=LANGUAGE)
        assert pdf.rendered
        return pdf

    return run


def forget_stored(invoice_id: int) -> None:
    folder = f"private/invoice-pdfs/{load(invoice_id).public_id}"
    if default_storage.exists(folder):
        for name in default_storage.listdir(folder)[1]:
            default_storage.delete(f"{folder}/{name}")


def weasyprint_alone(html: str) -> Callable[[], object]:
    """The same HTML, stylesheet and fonts, the way WeasyPrint's documentation renders it."""
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    css_path = str(render.static_path(render.STYLESHEET))
    base_url = str(Path(css_path).parent) + "/"

    def run() -> object:
        font_config = FontConfiguration()
        css = CSS(filename=css_path, font_config=font_config)
        return HTML(string=html, base_url=base_url).write_pdf(
            stylesheets=[css], font_config=font_config
        )

    return run


def mib(kib: int) -> float:
    return kib / 1024  # ru_maxrss is in KiB on Linux


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="renders per compared path")
    parser.add_argument("--downloads", type=int, default=200, help="cached downloads timed")
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    company = factories.make_company(slug=f"bench-pdf-{os.getpid()}", name="Bench PDF GmbH")
    customer = factories.make_customer(company, name="Αλέξανδρος Дмитриев")
    lines = [(f"Consulting, week {i}", "1.5", 12000 + i, "19") for i in range(1, 11)]
    invoice = factories.make_invoice(company, customer, lines=lines, currency="eur")
    big = factories.make_invoice(
        company,
        customer,
        lines=[(f"Item {i:03d}", "2", 995, "7") for i in range(500)],
        status="draft",  # no pre-render on finalize: measured below
    )
    token = factories.share_token(invoice)
    client = Client()
    try:
        # Warm up: WeasyPrint's import (about 1 s) and first render are not what we compare.
        forget_stored(invoice.pk)
        warm_started = time.perf_counter()
        service_fresh_render(invoice.pk)()
        first_render = time.perf_counter() - warm_started
        html = invoice_pdf_html(invoice=load(invoice.pk), language=LANGUAGE)
        weasyprint_alone(html)()

        # 3. The 500-line invoice first, so the peak RSS is its own, not earlier renders'.
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        forget_stored(big.pk)
        big_time = timed(service_fresh_render(big.pk))
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        big_pdf = invoice_pdf_get_or_render(invoice=load(big.pk), language=LANGUAGE)
        from pypdf import PdfReader

        big_pages = len(PdfReader(default_storage.open(big_pdf.name)).pages)

        # 1 and 2, interleaved so that a busy neighbour slows every path alike: each round
        # renders through our service (which stores the PDF), downloads that stored PDF a few
        # times through the whole Django stack, then renders the same HTML with WeasyPrint.
        url = f"/invoice/{token}/pdf"
        per_round = max(args.downloads // args.rounds, 1)
        ours, alone, downloads = [], [], []
        for _ in range(args.rounds):
            forget_stored(invoice.pk)
            ours.append(timed(service_fresh_render(invoice.pk)))
            for _ in range(per_round):
                started = time.perf_counter()
                response = client.get(url)
                downloads.append(time.perf_counter() - started)
                assert response.status_code == 200 and response.content.startswith(b"%PDF")
            alone.append(timed(weasyprint_alone(html)))
        fresh = statistics.median(ours)
        plain = statistics.median(alone)
        cached = statistics.median(downloads)
        cached_p99 = sorted(downloads)[int(len(downloads) * 0.99) - 1]
    finally:
        Invoice.objects.filter(company=company).delete()
        company.customers.all().delete()
        Company.objects.filter(pk=company.pk).delete()

    overhead = fresh / plain
    speedup = fresh / cached
    db = "PostgreSQL" if "postgres" in os.environ["DATABASE_URL"] else "SQLite"
    print(f"Invoice PDF benchmark ({db}, WeasyPrint {_weasyprint_version()}, {args.rounds} rounds)")
    print(f"  first render in this process (with import): {first_render * 1000:8.1f} ms")
    print(f"  fresh render, our service (10 lines):       {fresh * 1000:8.1f} ms  (median)")
    print(f"  same HTML, WeasyPrint alone:                {plain * 1000:8.1f} ms  (median)")
    print(
        f"  cached download, GET {url[:14]}…/pdf:  {cached * 1000:8.2f} ms  (median, p99 "
        f"{cached_p99 * 1000:.2f} ms, {len(response.content) // 1024} KiB)"
    )
    print(f"  500-line invoice ({big_pages} pages):           {big_time * 1000:8.1f} ms")
    print(
        f"    peak RSS {mib(rss_after):.0f} MiB (+{mib(rss_after - rss_before):.0f} MiB "
        f"over the warmed-up process)"
    )
    print("Ratios")
    ok_overhead = overhead <= 1.15
    ok_speedup = speedup >= 20
    print(
        f"  fresh render / WeasyPrint alone = {overhead:.2f}x  (target <= 1.15x) "
        f"{'OK' if ok_overhead else 'FAIL'}"
    )
    print(
        f"  fresh render / cached download  = {speedup:.0f}x  (target >= 20x) "
        f"{'OK' if ok_speedup else 'FAIL'}"
    )
    return 0 if ok_overhead and ok_speedup else 1


def _weasyprint_version() -> str:
    import weasyprint

    return str(weasyprint.__version__)


if __name__ == "__main__":
    sys.exit(main())
