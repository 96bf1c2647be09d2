"""Test data through the real services (never by poking rows), so tests see what users see."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from invoices import services
from invoices.models import Company, Customer, Invoice, Membership
from invoices.models.company import Role

_counter = itertools.count(1)


def make_company(**fields: Any) -> Company:
    n = next(_counter)
    fields.setdefault("slug", f"company-{n}")
    fields.setdefault("name", f"Company {n}")
    return services.company_create(**fields)


def make_user(username: str | None = None, **fields: Any) -> Any:
    username = username or f"user-{next(_counter)}"
    fields.setdefault("is_staff", True)
    return get_user_model().objects.create_user(
        username=username, password="pw-for-tests-only", email=f"{username}@example.test", **fields
    )


def make_staff(company: Company, role: str = Role.MANAGER, username: str | None = None) -> Any:
    user = make_user(username)
    Membership.objects.create(user=user, company=company, role=role)
    return user


def make_customer(company: Company, **fields: Any) -> Customer:
    n = next(_counter)
    fields.setdefault("name", f"Customer {n}")
    fields.setdefault("email", f"customer{n}@example.com")
    return services.customer_create(company=company, **fields)


def make_invoice(
    company: Company,
    customer: Customer | None = None,
    *,
    lines: list[tuple[str, str, int, str]] | int = 1,
    status: str = "open",
    currency: str = "usd",
    due_in_days: int = 30,
    issue_date: dt.date | None = None,
    **fields: Any,
) -> Invoice:
    """An invoice with ``lines`` (description, quantity, unit_amount, tax_rate), or that many
    generated lines, moved to ``status`` through the real transitions."""
    customer = customer or make_customer(company)
    if isinstance(lines, int):
        lines = [(f"Line {i + 1}", "1", 1000, "0") for i in range(lines)]
    issue = issue_date or timezone.localdate()
    invoice = services.invoice_create(
        company=company,
        customer=customer,
        currency=currency,
        issue_date=issue,
        due_date=issue + dt.timedelta(days=due_in_days),
        lines=[
            services.LineInput(
                description=d, quantity=Decimal(q), unit_amount=u, tax_rate=Decimal(t)
            )
            for d, q, u, t in lines
        ],
        **fields,
    )
    if status != "draft":
        services.invoice_finalize(invoice=invoice)
    if status not in ("draft", "open"):
        services.invoice_transition(invoice=invoice, to_status=status)
    return invoice


def share_token(invoice: Invoice) -> str:
    return services.share_link_token(services.share_link_create(invoice=invoice))


def portal_token(customer: Customer) -> str:
    return services.share_link_token(services.portal_link_create(customer=customer))
