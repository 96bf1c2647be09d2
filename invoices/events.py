"""The audit trail: keyword-only functions, one per kind of event, each naming the tenant."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from invoices.models import AuditEvent, Company

Actor = AbstractBaseUser | AnonymousUser | None


def record(
    *, company: Company, action: str, object_id: str = "", actor: Actor = None, **data: Any
) -> AuditEvent:
    user = actor if actor is not None and actor.is_authenticated else None
    return AuditEvent.objects.create(
        company=company, actor=user, action=action, object_id=object_id, data=data
    )
