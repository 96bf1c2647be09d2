"""Reads for the embed. Every lookup is scoped to the company named by the public key."""

from __future__ import annotations

from django.db.models import QuerySet

from invoices.models import Company, Customer, Invoice, InvoiceStatus
from invoices.selectors import CUSTOMER_VISIBLE_STATUSES
from portal.embed.models import EmbedSettings, IdentifyBy


class AmbiguousCustomer(Exception):
    """More than one customer of the company has this email address."""


def embed_settings_for_key(*, public_key: str) -> EmbedSettings | None:
    """The embed settings of the company with this public key, with the company and its
    secret loaded. One query."""
    return (
        EmbedSettings.objects.select_related("company", "company__embed_secret")
        .filter(company__public_key=public_key)
        .first()
    )


def embed_customer_lookup(
    *, company: Company, identify_by: str, identifier: str
) -> Customer | None:
    """The customer of ``company`` the identifier names: by email (case-insensitive), by
    external id or by Stripe customer id (exact), as the company chose. Never a customer of another company. One query.
    Raises AmbiguousCustomer when several customers share the email."""
    customers = Customer.objects.filter(company=company)
    if identify_by == IdentifyBy.EXTERNAL_ID:
        customers = customers.filter(external_id=identifier) if identifier else customers.none()
    elif identify_by == IdentifyBy.STRIPE_CUSTOMER:
        # Stripe's cus_… id, exactly (unique per company: customer_unique_stripe_id).
        customers = (
            customers.filter(stripe_customer_id=identifier) if identifier else customers.none()
        )
    else:
        customers = customers.filter(email__iexact=identifier)
    found = list(customers.order_by("pk")[:2])
    if len(found) > 1:
        raise AmbiguousCustomer(identifier)
    return found[0] if found else None


def embed_listed_statuses(*, show_all: bool) -> tuple[str, ...]:
    return tuple(CUSTOMER_VISIBLE_STATUSES) if show_all else (InvoiceStatus.OPEN,)


def embed_invoices_for_customer(
    *, customer: Customer, show_all: bool, subscription: str = ""
) -> QuerySet[Invoice]:
    """The invoices the embed lists: open ones, or every issued one with "show all" on;
    only those of ``subscription`` (a Stripe sub_… id) when given. Drafts never. Newest
    first."""
    invoices = Invoice.objects.filter(
        company_id=customer.company_id,
        customer=customer,
        status__in=embed_listed_statuses(show_all=show_all),
    )
    if subscription:
        invoices = invoices.filter(stripe_subscription_id=subscription)
    return invoices.order_by("-issue_date", "-sequence")


def embed_invoice_for_customer(*, customer: Customer, public_id: str) -> Invoice | None:
    """One of the customer's issued invoices (any customer-visible status, so an invoice paid
    inside the frame stays open there), with company and customer. One query."""
    return (
        Invoice.objects.select_related("company", "customer")
        .filter(
            company_id=customer.company_id,
            customer=customer,
            public_id=public_id,
            status__in=CUSTOMER_VISIBLE_STATUSES,
        )
        .first()
    )
