"""Which companies a staff user may see and manage. A superuser sees all."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.models import User as AuthUser

from invoices.models import Membership
from invoices.models.company import ROLES_THAT_MANAGE_INVOICES

# Whoever a request is from: a staff account or nobody.
User = AuthUser | AnonymousUser


def can_manage_invoices(user: User, company_id: int) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    if getattr(user, "is_superuser", False):
        return True
    return Membership.objects.filter(
        user=user, company_id=company_id, role__in=ROLES_THAT_MANAGE_INVOICES
    ).exists()


def is_staff_of(user: User, company_id: int) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    return Membership.objects.filter(user=user, company_id=company_id).exists()
