from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from invoices.models import ApiKey, Company, Customer, Invoice
from invoices.services import api_key_hash

pytestmark = pytest.mark.django_db


def run(*args: Any) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_it_creates_a_company_and_prints_an_api_key_last() -> None:
    run("create_company", "acme", "--name", "Acme", "--currency", "jpy", "--plan", "pro")
    company = Company.objects.get(slug="acme")
    assert (company.default_currency, company.plan) == ("jpy", "pro")
    key = run("create_api_key", "acme").strip().splitlines()[-1]
    assert ApiKey.objects.get(company=company).key_hash == api_key_hash(key)


def test_it_refuses_unknown_currency_and_duplicate_slug() -> None:
    with pytest.raises(CommandError):
        run("create_company", "x", "--name", "X", "--currency", "zzz")
    run("create_company", "x", "--name", "X")
    with pytest.raises(CommandError):
        run("create_company", "x", "--name", "X again")


def test_it_seeds_the_demo_idempotently() -> None:
    first = run("seed_demo")
    counts = (Company.objects.count(), Customer.objects.count(), Invoice.objects.count())
    second = run("seed_demo")
    assert counts == (Company.objects.count(), Customer.objects.count(), Invoice.objects.count())
    # acme and globex (10 customers, 25 invoices each) and beispiel (3 customers, 5 invoices).
    assert counts[0] == 3 and counts[1] == 23 and counts[2] == 55
    statuses = set(Invoice.objects.values_list("status", flat=True))
    assert statuses == {"draft", "open", "paid", "void", "uncollectible"}
    assert set(Invoice.objects.values_list("currency", flat=True)) == {"usd", "eur", "jpy", "kwd"}
    assert Invoice.objects.filter(status="open", amount_paid__gt=0).exists()  # partly paid
    assert "acme-owner" in first and "/invoice/" in second
