"""The import (``manage.py stripe_sync``): customers, finalized invoices with all their lines,
payments and credit notes from the company's Stripe account; idempotent and resumable."""

from __future__ import annotations

import io
import time
from typing import Any

import pytest
import stripe
from django.core.management import call_command

from invoices.models import Customer, Invoice, LineItem
from payments.models import Payment, StripeConnection
from stripe_emulator.server import EmulatorServer
from tests.stripe_sync.conftest import seed_invoices, stripe_invoice

pytestmark = pytest.mark.django_db(transaction=False)


def _sync(*args: str) -> str:
    out = io.StringIO()
    call_command("stripe_sync", "tenant", *args, stdout=out)
    return out.getvalue()


def test_it_imports_customers_and_finalized_invoices_with_stripes_numbers(
    connected: StripeConnection, sdk: stripe.StripeClient
) -> None:
    ada = sdk.v1.customers.create(
        params={
            "name": "Ada Lovelace",
            "email": "ada@example.com",
            "address": {"line1": "1 Analytical Way", "city": "London", "country": "GB"},
            "tax_id_data": [{"type": "gb_vat", "value": "GB123456789"}],
        }
    )
    lines = [(f"Consulting day {n}", 2, 45_000) for n in range(1, 13)]
    invoice = stripe_invoice(sdk, ada.id, lines)
    draft = stripe_invoice(sdk, ada.id, [("Not yet", 1, 100)], finalize=False)

    output = _sync()

    assert "invoices: 2 read" in output
    customer = Customer.objects.get(stripe_customer_id=ada.id)
    imported = Invoice.objects.get(stripe_invoice_id=invoice.id)
    assert imported.customer == customer
    assert imported.number == invoice.number
    assert imported.status == "open"
    assert imported.total == 12 * 90_000 == invoice.total
    assert imported.amount_due == invoice.amount_remaining
    assert imported.stripe_billing_reason == "manual"
    # All twelve lines, though Stripe embeds ten: the rest came from /v1/invoices/<id>/lines.
    assert [line.description for line in imported.lines.all()] == [d for d, _q, _u in lines]
    assert imported.lines.first().quantity == 2
    assert imported.lines.first().unit_amount == 45_000
    assert imported.buyer_snapshot["name"] == "Ada Lovelace"
    assert imported.buyer_snapshot["tax_id"] == "GB123456789"
    assert "London" in " ".join(imported.buyer_snapshot["address_lines"])
    assert not Invoice.objects.filter(stripe_invoice_id=draft.id).exists()
    # Our own numbering neither collides nor moves.
    connected.company.refresh_from_db()
    assert connected.company.next_invoice_sequence == 1


def test_a_second_run_doubles_nothing(
    connected: StripeConnection, sdk: stripe.StripeClient
) -> None:
    ada = sdk.v1.customers.create(params={"name": "Ada", "email": "ada@example.com"})
    paid = stripe_invoice(sdk, ada.id, [("Hosting", 1, 2_000)])
    sdk.v1.invoices.pay(paid.id, params={"payment_method": "pm_card_visa"})
    stripe_invoice(sdk, ada.id, [("Support", 1, 3_000)])
    _sync()
    counts = (Customer.objects.count(), Invoice.objects.count(), LineItem.objects.count())
    payments = Payment.objects.count()

    _sync()

    assert (Customer.objects.count(), Invoice.objects.count(), LineItem.objects.count()) == counts
    assert Payment.objects.count() == payments == 1
    assert Invoice.objects.get(stripe_invoice_id=paid.id).status == "paid"


def test_it_matches_customers_by_email_in_any_case(
    connected: StripeConnection, sdk: stripe.StripeClient, customer: Customer
) -> None:
    # ``customer`` is ada@example.com, made here before the company used Stripe.
    stripe_ada = sdk.v1.customers.create(params={"name": "Ada L.", "email": "ADA@Example.com"})

    _sync()

    customer.refresh_from_db()
    assert customer.stripe_customer_id == stripe_ada.id
    assert Customer.objects.filter(company=connected.company).count() == 1


def test_a_backfill_of_hundreds_of_invoices_with_paginated_lines_takes_seconds(
    connected: StripeConnection, emulator: EmulatorServer
) -> None:
    statuses = ["open", "paid", "void", "uncollectible"]
    specs: list[dict[str, Any]] = [
        {
            "customer": {"name": f"Buyer {n % 40}", "email": f"buyer{n % 40}@example.com"},
            "status": statuses[n % 4],
            "lines": [
                {"description": f"Item {k}", "quantity": 1, "unit_amount": 100 + k}
                # Every third invoice has more lines than Stripe embeds.
                for k in range(14 if n % 3 == 0 else 2)
            ],
        }
        for n in range(300)
    ]
    seed_invoices(emulator, specs)
    started = time.monotonic()

    _sync()

    elapsed = time.monotonic() - started
    assert Invoice.objects.count() == 300
    assert Customer.objects.count() == 40
    assert LineItem.objects.count() == sum(len(spec["lines"]) for spec in specs)
    by_status = {s: Invoice.objects.filter(status=s).count() for s in statuses}
    assert by_status == {s: 75 for s in statuses}
    assert elapsed < 30, elapsed
