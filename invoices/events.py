"""The audit trail: keyword-only functions, one per kind of event, each naming the tenant."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser, User

from invoices.models import AuditEvent, Company, Customer, Invoice

Actor = User | AnonymousUser | None


def acting_user(actor: Actor) -> User | None:
    """The account behind an action, or None for anonymous and system actions."""
    return actor if isinstance(actor, User) else None


def record(
    *, company: Company, action: str, object_id: str = "", actor: Actor = None, **data: Any
) -> AuditEvent:
    return AuditEvent.objects.create(
        company=company, actor=acting_user(actor), action=action, object_id=object_id, data=data
    )


# Outgoing events (webhooks): how events describe our objects -----------------------------


def invoice_data(invoice: Invoice) -> dict[str, Any]:
    """An invoice as outgoing events describe it (public ids, minor units)."""
    return {
        "object": "invoice",
        "id": invoice.public_id,
        "number": invoice.number,
        "status": invoice.status,
        "customer": invoice.customer.public_id,
        "currency": invoice.currency,
        "total": invoice.total,
        "amount_paid": invoice.amount_paid,
        "amount_due": invoice.amount_due,
        "due_date": invoice.due_date.isoformat(),
    }


def customer_data(customer: Customer) -> dict[str, Any]:
    return {
        "object": "customer",
        "id": customer.public_id,
        "name": customer.name,
        "email": customer.email,
        "external_id": customer.external_id,
    }
