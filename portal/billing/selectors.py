"""Reads for the billing details page and the account's navigation."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils import timezone

from invoices.models import Company, Customer
from invoices.models.company import portal_editable_fields_normalize

from .fields import GROUP_FIELDS
from .models import BillingEmailChange


def editable_groups(company: Company) -> list[str]:
    """The groups (PortalEditableField values) the company lets customers change. No query."""
    try:
        return portal_editable_fields_normalize(company.portal_editable_fields)
    except ValidationError:  # a malformed stored value opens nothing
        return []


def billing_details_editable(*, company: Company) -> bool:
    """Whether customers of ``company`` may change any billing detail (the account navigation
    shows the Billing details tab then). No query: the company is loaded with the customer."""
    return bool(editable_groups(company))


def editable_fields(customer: Customer) -> list[str]:
    """The customer fields the page may change, in the page's order."""
    return [name for group in editable_groups(customer.company) for name in GROUP_FIELDS[group]]


def pending_email_change(*, customer: Customer) -> BillingEmailChange | None:
    """The billing email waiting for its confirmation, if any. One query."""
    return (
        BillingEmailChange.objects.filter(
            customer_id=customer.pk,
            confirmed_at__isnull=True,
            cancelled_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
        .only("new_email", "expires_at")
        .order_by("-created_at")
        .first()
    )
