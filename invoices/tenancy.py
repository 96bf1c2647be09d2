"""Who may do what in which company: one permission function, ``has_capability(user, company,
capability)``, that every admin class, action, inline, form-field choice and service asks.

Roles are per company (a user may own A and only read B). A superuser may do everything; the
company-level decisions (plan, slug, deleting a company) are theirs alone."""

from __future__ import annotations

import enum
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.models import User as AuthUser

from invoices.models import Membership
from invoices.models.company import Role

# Whoever a request is from: a staff account or nobody.
User = AuthUser | AnonymousUser


class Capability(enum.StrEnum):
    READ = "read"
    # Customers, invoices, share and portal links, sending, comments.
    MANAGE_INVOICES = "manage_invoices"
    # Refunds and credit notes.
    MANAGE_MONEY = "manage_money"
    # Memberships, API keys, secrets (Stripe, embed) and the company's settings: owners only.
    MANAGE_STAFF = "manage_staff"
    # Plan, slug, creating and deleting a company: superusers only.
    ADMINISTER = "administer"


ROLE_CAPABILITIES: dict[str, frozenset[Capability]] = {
    Role.OWNER: frozenset(
        {
            Capability.READ,
            Capability.MANAGE_INVOICES,
            Capability.MANAGE_MONEY,
            Capability.MANAGE_STAFF,
        }
    ),
    Role.MANAGER: frozenset({Capability.READ, Capability.MANAGE_INVOICES, Capability.MANAGE_MONEY}),
    Role.VIEWER: frozenset({Capability.READ}),
}


def _roles_with(capability: Capability) -> list[str]:
    return [role for role, caps in ROLE_CAPABILITIES.items() if capability in caps]


def _active(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def has_capability(user: User | None, company_id: int | None, capability: Capability) -> bool:
    """May ``user`` do ``capability`` in this one company?"""
    if user is None or not _active(user) or company_id is None:
        return False
    if user.is_superuser:
        return True
    if capability == Capability.ADMINISTER:
        return False
    return Membership.objects.filter(
        user_id=user.pk or 0, company_id=company_id, role__in=_roles_with(capability)
    ).exists()


def company_ids_with(user: User | None, capability: Capability) -> list[int] | None:
    """The companies where ``user`` has ``capability``; None means every company (superuser)."""
    if user is None or not _active(user):
        return []
    if user.is_superuser:
        return None
    if capability == Capability.ADMINISTER:
        return []
    return list(
        Membership.objects.filter(
            user_id=user.pk or 0, role__in=_roles_with(capability)
        ).values_list("company_id", flat=True)
    )


def can_manage_invoices(user: User, company_id: int) -> bool:
    return has_capability(user, company_id, Capability.MANAGE_INVOICES)


def is_staff_of(user: User, company_id: int) -> bool:
    return has_capability(user, company_id, Capability.READ)
