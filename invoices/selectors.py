"""Reads: every lookup is scoped to a tenant, a share token or a staff member."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db.models import F, Q, QuerySet, Sum
from django.utils import timezone

from invoices.models import (
    Company,
    CreditNote,
    Customer,
    Invoice,
    InvoiceStatus,
    ShareLink,
    ShareLinkKind,
)
from invoices.models.credit_note import CreditNoteStatus
from invoices.services import SHARE_LINK_PURPOSE
from invoices.tenancy import User, company_ids_for_user
from invoices.tokens import parse_token

CUSTOMER_VISIBLE_STATUSES = (
    InvoiceStatus.OPEN,
    InvoiceStatus.PAID,
    InvoiceStatus.VOID,
    InvoiceStatus.UNCOLLECTIBLE,
)
UNPAID_STATUSES = (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE)


def _not_expired(now: dt.datetime) -> Q:
    return Q(share_links__expires_at__isnull=True) | Q(share_links__expires_at__gt=now)


def invoice_for_share_token(token: str) -> Invoice | None:
    """The invoice a live invoice share link opens, with company and customer; never a draft.
    One query for a well-formed token, none for a forged one."""
    selector = parse_token(token, purpose=SHARE_LINK_PURPOSE)
    if selector is None:
        return None
    # One filter() call, so every condition applies to the same share-link row.
    return (
        Invoice.objects.select_related("company", "customer")
        .filter(
            _not_expired(timezone.now()),
            share_links__selector=selector,
            share_links__kind=ShareLinkKind.INVOICE,
            share_links__revoked_at__isnull=True,
            status__in=CUSTOMER_VISIBLE_STATUSES,
        )
        .first()
    )


def customer_for_portal_token(token: str) -> Customer | None:
    """The customer a live portal link opens, with the company. One query at most."""
    selector = parse_token(token, purpose=SHARE_LINK_PURPOSE)
    if selector is None:
        return None
    return (
        Customer.objects.select_related("company")
        .filter(
            _not_expired(timezone.now()),
            share_links__selector=selector,
            share_links__kind=ShareLinkKind.PORTAL,
            share_links__revoked_at__isnull=True,
        )
        .first()
    )


def invoices_for_customer(*, customer: Customer) -> QuerySet[Invoice]:
    """The customer's invoices a customer may see, newest first (drafts never)."""
    return Invoice.objects.filter(
        company_id=customer.company_id, customer=customer, status__in=CUSTOMER_VISIBLE_STATUSES
    ).order_by("-issue_date", "-sequence")


def outstanding_by_currency(*, customer: Customer) -> dict[str, int]:
    """Amount still owed across every unpaid invoice, per currency (minor units)."""
    rows = (
        Invoice.objects.filter(
            company_id=customer.company_id, customer=customer, status__in=UNPAID_STATUSES
        )
        .values("currency")
        .annotate(due=Sum(F("total") - F("amount_paid")))
    )
    return {row["currency"]: max(int(row["due"] or 0), 0) for row in rows}


def has_overdue(*, customer: Customer, today: dt.date | None = None) -> bool:
    today = today or timezone.localdate()
    return Invoice.objects.filter(
        company_id=customer.company_id,
        customer=customer,
        status__in=UNPAID_STATUSES,
        due_date__lt=today,
    ).exists()


def credit_balance(*, customer: Customer) -> dict[str, int]:
    """Unapplied credit of issued credit notes, per currency (minor units)."""
    balance: dict[str, int] = defaultdict(int)
    for note in CreditNote.objects.filter(
        company_id=customer.company_id, customer=customer, status=CreditNoteStatus.ISSUED
    ).only("currency", "amount", "amount_applied"):
        balance[note.currency] += note.remaining
    return dict(balance)


def is_overdue(invoice: Invoice, today: dt.date | None = None) -> bool:
    today = today or timezone.localdate()
    return invoice.status in UNPAID_STATUSES and invoice.due_date < today


def invoices_for_staff(*, user: User) -> QuerySet[Invoice]:
    ids = company_ids_for_user(user)
    qs = Invoice.objects.all()
    return qs if ids is None else qs.filter(company_id__in=ids)


def invoice_for_staff(*, user: User, public_id: str) -> Invoice | None:
    return invoices_for_staff(user=user).filter(public_id=public_id).first()


def invoice_for_company(*, company: Company, public_id: str) -> Invoice | None:
    return (
        Invoice.objects.select_related("company", "customer")
        .filter(company=company, public_id=public_id)
        .first()
    )


def customer_for_company(*, company: Company, public_id: str) -> Customer | None:
    return Customer.objects.filter(company=company, public_id=public_id).first()


def live_share_link(*, invoice: Invoice) -> ShareLink | None:
    now = timezone.now()
    for link in ShareLink.objects.filter(
        kind=ShareLinkKind.INVOICE, invoice=invoice, revoked_at__isnull=True
    ):
        if link.expires_at is None or link.expires_at > now:
            return link
    return None


def live_portal_link(*, customer: Customer) -> ShareLink | None:
    now = timezone.now()
    for link in ShareLink.objects.filter(
        kind=ShareLinkKind.PORTAL, customer=customer, revoked_at__isnull=True
    ):
        if link.expires_at is None or link.expires_at > now:
            return link
    return None
