"""The audit trail: keyword-only functions, one per kind of event, each naming the tenant."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser, User

from invoices.models import AuditEvent, Company

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
