"""Benchmark data in PostgreSQL, built in bulk with SQL.

A few template rows are made through the services (a company connected to Stripe, one open and
one paid invoice with its payment, their share links); every other row is a copy of a template
made by ``INSERT … SELECT … FROM generate_series``, with the columns that identify it (public
ids, numbers, customer, dates, amounts paid) rewritten. Copying the templates' other columns
fills every column a model gains later the way the services fill it.

Customers are numbered: number 0 is the measured customer (``BIG_CUSTOMER_INVOICES`` invoices
over 36 months, two thirds paid, a few credit notes), numbers 1..N the others
(``per_customer`` invoices each over two years). Every invoice has a live share link and every
customer a portal link whose selectors are ``md5('bench-invoice-<id>')`` and
``md5('bench-portal-<id>')``, so the harness can compute any token without storing it.

The database is built once, in one transaction, and kept for the next run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

BULK_SLUG = "bench"
BIG_CUSTOMER_INVOICES = 500
# Bulk invoice sequences start here, far above the ones the services allocate.
SEQUENCE_BASE = 1_000_000


@dataclass(frozen=True)
class Dataset:
    company_id: int
    customers: int
    per_customer: int
    big_customer_id: int
    invoices: int


def ensure_database(url: str) -> bool:
    """Create the PostgreSQL database named by ``url`` if it is missing; True when created."""
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("The benchmarks measure PostgreSQL: set DATABASE_URL=postgres://...")
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return False
        conn.execute(f'CREATE DATABASE "{name}"')
        return True


def invoice_token(invoice_id: int) -> str:
    from invoices.tokens import SHARE_LINK_PURPOSE, make_token

    selector = hashlib.md5(f"bench-invoice-{invoice_id}".encode()).hexdigest()
    return make_token(selector, purpose=SHARE_LINK_PURPOSE)


def portal_token(customer_id: int) -> str:
    from invoices.tokens import SHARE_LINK_PURPOSE, make_token

    selector = hashlib.md5(f"bench-portal-{customer_id}".encode()).hexdigest()
    return make_token(selector, purpose=SHARE_LINK_PURPOSE)


def customer_public_id(number: int) -> str:
    return f"cus_bench{number:09d}"


def build(*, customers: int, per_customer: int) -> Dataset:
    """The dataset of this database, built first when the database has none."""
    from django.core.management import call_command

    from invoices.models import Company, Customer, Invoice

    call_command("migrate", verbosity=0)
    company = Company.objects.filter(slug=BULK_SLUG).first()
    if company is None:
        started = time.monotonic()
        print(
            f"Building {customers * per_customer + BIG_CUSTOMER_INVOICES:,} invoices for "
            f"{customers + 1:,} customers with bulk SQL (first run only)...",
            flush=True,
        )
        company = _build(customers=customers, per_customer=per_customer)
        print(f"Built in {time.monotonic() - started:.0f} s.", flush=True)
    big = Customer.objects.get(public_id=customer_public_id(0))
    made = Customer.objects.filter(company=company, public_id__startswith="cus_bench").count() - 1
    if made != customers:
        sys.exit(
            f"This database holds {made} bulk customers, not {customers}: drop it "
            "(it is only benchmark data) and run again to rebuild it."
        )
    invoices = Invoice.objects.filter(company=company).count()
    return Dataset(
        company_id=company.pk,
        customers=customers,
        per_customer=per_customer,
        big_customer_id=big.pk,
        invoices=invoices,
    )


def _invoice_serial(dataset: Dataset, number: int) -> int:
    # Customer `number`'s invoice measured: its invoices taken in turn (a paid and open mix).
    return (number - 1) * dataset.per_customer + number % dataset.per_customer


def invoice_number(dataset: Dataset, number: int) -> str:
    """The number printed on customer ``number``'s measured invoice."""
    return f"B-{_invoice_serial(dataset, number):08d}"


def invoice_ids(dataset: Dataset, numbers: list[int]) -> list[int]:
    """The id of the measured invoice of each customer number (see invoice_number)."""
    from django.db import connection

    public_ids = [f"inv_bench{_invoice_serial(dataset, n):010d}" for n in numbers]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT public_id, id FROM invoices_invoice WHERE public_id = ANY(%s)", [public_ids]
        )
        by_public_id = dict(cursor.fetchall())
    return [by_public_id[p] for p in public_ids]


def customer_ids(numbers: list[int]) -> list[int]:
    from django.db import connection

    public_ids = [customer_public_id(n) for n in numbers]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT public_id, id FROM invoices_customer WHERE public_id = ANY(%s)", [public_ids]
        )
        by_public_id = dict(cursor.fetchall())
    return [by_public_id[p] for p in public_ids]


def _columns(table: str) -> list[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
            "AND column_name <> 'id' ORDER BY ordinal_position",
            [table],
        )
        return [row[0] for row in cursor.fetchall()]


def _copy(table: str, *, source: str, overrides: Mapping[str, str], label: str) -> None:
    """INSERT INTO table SELECT … FROM source: each column from the template row ``t`` unless
    ``overrides`` gives its expression. Only integers are formatted into these statements."""
    from django.db import connection

    columns = _columns(table)
    unknown = set(overrides) - set(columns)
    if unknown:
        raise RuntimeError(f"{table} has no column {sorted(unknown)}")
    values = ", ".join(overrides.get(c, f"t.{c}") for c in columns)
    names = ", ".join(f'"{c}"' for c in columns)
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({names}) SELECT {values} FROM {source}")
        count = cursor.rowcount
    print(f"  {label:<28}{count:>10,} rows  {time.monotonic() - started:6.1f} s", flush=True)


def _templates() -> tuple[object, object, object, object]:
    """The company and the template rows, through the services."""
    from django.utils import timezone

    from invoices import services
    from payments import services as payment_services

    company = services.company_create(
        slug=BULK_SLUG,
        name="Bench Supplies Ltd",
        plan="pro",
        email="billing@bench.example",
        address="1 Market Street\nSpringfield",
    )
    payment_services.stripe_connection_save(
        company=company,
        secret_key="sk_test_bench_0000",
        webhook_secret="whsec_bench_0000",
        publishable_key="pk_test_bench_0000",
    )
    customer = services.customer_create(
        company=company, name="Template customer", email="template@bench.example"
    )
    today = timezone.localdate()
    made = []
    for _ in range(2):
        invoice = services.invoice_create(
            company=company,
            customer=customer,
            currency="usd",
            issue_date=today,
            due_date=today + dt.timedelta(days=30),
            lines=[
                services.LineInput(
                    description="Consulting, senior engineer",
                    quantity=Decimal("1.5"),
                    unit_amount=12_000,
                    tax_rate=Decimal(19),
                ),
                services.LineInput(
                    description="Hosting, one month",
                    quantity=Decimal(1),
                    unit_amount=4_900,
                    tax_rate=Decimal(19),
                ),
            ],
            notes="Thank you for your business.",
        )
        made.append(services.invoice_finalize(invoice=invoice))
    open_invoice, paid_invoice = made
    payment_services.payment_record_offline(
        invoice=paid_invoice, amount=paid_invoice.total, method="bank_transfer", reference="BENCH"
    )
    services.share_link_create(invoice=open_invoice)
    services.portal_link_create(customer=customer)
    return company, customer, open_invoice, paid_invoice


def _build(*, customers: int, per_customer: int) -> object:
    from django.db import connection, transaction

    from invoices import services
    from invoices.models import Customer, ShareLink
    from payments.models import Payment

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")
        company, template_customer, open_invoice, paid_invoice = _templates()
        company_id, template_id = company.pk, template_customer.pk  # type: ignore[attr-defined]
        open_id, paid_id = open_invoice.pk, paid_invoice.pk  # type: ignore[attr-defined]
        payment_id = Payment.objects.get(invoice_id=paid_id).pk
        invoice_link_id = ShareLink.objects.get(invoice_id=open_id).pk
        portal_link_id = ShareLink.objects.get(customer_id=template_id, kind="portal").pk

        _copy(
            "invoices_customer",
            source=f"invoices_customer t CROSS JOIN generate_series(0, {customers}) g "
            f"WHERE t.id = {template_id}",
            overrides={
                "public_id": "'cus_bench' || lpad(g::text, 9, '0')",
                "name": "CASE WHEN g = 0 THEN 'Measured Customer GmbH' ELSE 'Customer ' || g END",
                "email": "'customer' || g || '@example.com'",
                "created_at": "now()",
            },
            label="customers",
        )
        bulk = customers * per_customer
        # The others: per_customer invoices each over two years. The measured customer:
        # BIG_CUSTOMER_INVOICES over 36 months (one every 2.2 days).
        for label, first, last, number, j, age in (
            (
                "invoices",
                0,
                bulk - 1,
                f"g / {per_customer} + 1",
                f"g % {per_customer}",
                "(v.cn * 7 + v.j * 31) % 720",
            ),
            (
                "invoices, measured customer",
                bulk,
                bulk + BIG_CUSTOMER_INVOICES - 1,
                "0",
                f"g - {bulk}",
                "(v.j * 11) / 5",
            ),
        ):
            _copy(
                "invoices_invoice",
                source=(
                    f"(SELECT g AS n, {number} AS cn, {j} AS j "
                    f"FROM generate_series({first}, {last}) g) v "
                    f"CROSS JOIN LATERAL (SELECT current_date - ({age}) AS issue) d "
                    # Paid when older than 45 days, except one in four: overdue.
                    f"JOIN invoices_invoice t ON t.id = CASE WHEN d.issue < current_date - 45 "
                    f"AND (v.j + v.cn) % 4 <> 0 THEN {paid_id} ELSE {open_id} END "
                    f"JOIN invoices_customer c ON c.public_id = "
                    f"'cus_bench' || lpad(v.cn::text, 9, '0')"
                ),
                overrides={
                    "public_id": "'inv_bench' || lpad(v.n::text, 10, '0')",
                    "number": "'B-' || lpad(v.n::text, 8, '0')",
                    "sequence": f"{SEQUENCE_BASE} + v.n",
                    "customer_id": "c.id",
                    "issue_date": "d.issue",
                    "due_date": "d.issue + 30",
                    "created_at": "d.issue::timestamptz",
                    "updated_at": "d.issue::timestamptz",
                    "finalized_at": "d.issue::timestamptz",
                    "paid_at": "CASE WHEN t.paid_at IS NULL THEN NULL "
                    "ELSE (d.issue + 20)::timestamptz END",
                    "buyer_snapshot": "jsonb_set(jsonb_set(t.buyer_snapshot, '{name}', "
                    "to_jsonb(c.name)), '{email}', to_jsonb(c.email))",
                },
                label=label,
            )
        bulk_invoices = (
            f"invoices_invoice i WHERE i.company_id = {company_id} "
            f"AND i.customer_id <> {template_id}"
        )
        _copy(
            "invoices_lineitem",
            source=(
                f"invoices_invoice i JOIN invoices_lineitem t ON t.invoice_id = "
                f"CASE WHEN i.status = 'paid' THEN {paid_id} ELSE {open_id} END "
                f"WHERE i.company_id = {company_id} AND i.customer_id <> {template_id}"
            ),
            overrides={"invoice_id": "i.id"},
            label="invoice lines",
        )
        _copy(
            "payments_payment",
            source=f"payments_payment t, {bulk_invoices} AND i.status = 'paid' "
            f"AND t.id = {payment_id}",
            overrides={
                "public_id": "'pay_bench' || lpad(i.id::text, 12, '0')",
                "invoice_id": "i.id",
                "amount": "i.total",
                "paid_at": "i.paid_at",
                "created_at": "i.paid_at",
                "updated_at": "i.paid_at",
                "reference": "'Transfer ' || i.number",
                "provider_payment_intent_id": "NULL",
            },
            label="payments",
        )
        _copy(
            "invoices_sharelink",
            source=f"invoices_sharelink t, {bulk_invoices} AND t.id = {invoice_link_id}",
            overrides={
                "selector": "md5('bench-invoice-' || i.id)",
                "invoice_id": "i.id",
                "customer_id": "i.customer_id",
                "created_at": "now()",
            },
            label="invoice share links",
        )
        _copy(
            "invoices_sharelink",
            source=(
                f"invoices_sharelink t, invoices_customer c WHERE t.id = {portal_link_id} "
                f"AND c.company_id = {company_id} AND c.id <> {template_id}"
            ),
            overrides={
                "selector": "md5('bench-portal-' || c.id)",
                "customer_id": "c.id",
                "created_at": "now()",
            },
            label="portal links",
        )
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE invoices_company SET next_invoice_sequence = %s WHERE id = %s",
                [SEQUENCE_BASE + bulk + BIG_CUSTOMER_INVOICES + 1, company_id],
            )
        # The measured customer's credit notes page: a few issued notes.
        big = Customer.objects.get(public_id=customer_public_id(0))
        for n in range(5):
            services.credit_note_create(
                company=company,  # type: ignore[arg-type]
                customer=big,
                currency="usd",
                amount=2_500 * (n + 1),
                reason=f"Goodwill credit {n + 1}",
            )
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"  {'ANALYZE':<38}{time.monotonic() - started:6.1f} s", flush=True)
    return company
