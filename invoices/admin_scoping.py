"""The base of every admin screen that shows tenant data: a staff member sees and edits only
their own companies' objects; another company's object answers 404 (not a redirect that would
confirm it exists). Read access comes from membership; writes need the "manage invoices" role."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest

from invoices.models import Membership
from invoices.models.company import ROLES_THAT_MANAGE_INVOICES


def _membership_company_ids(request: HttpRequest, *, managing: bool) -> list[int] | None:
    """The user's companies (only those they manage, with ``managing``), or None for every
    company (superuser). Cached on the request: the admin asks once per row otherwise."""
    attr = "_tenant_managed_ids" if managing else "_tenant_company_ids"
    if hasattr(request, attr):
        return getattr(request, attr)  # type: ignore[no-any-return]
    user = request.user
    ids: list[int] | None = None
    if not (user.is_active and user.is_superuser):
        memberships = Membership.objects.filter(user_id=user.pk or 0)
        if managing:
            memberships = memberships.filter(role__in=ROLES_THAT_MANAGE_INVOICES)
        ids = list(memberships.values_list("company_id", flat=True))
    setattr(request, attr, ids)
    return ids


def _company_ids(request: HttpRequest) -> list[int] | None:
    return _membership_company_ids(request, managing=False)


def _managed_company_ids(request: HttpRequest) -> list[int] | None:
    return _membership_company_ids(request, managing=True)


class TenantScopedAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    # The lookup from this model to its company id.
    company_field = "company"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        qs = super().get_queryset(request)
        ids = _company_ids(request)
        return qs if ids is None else qs.filter(**{f"{self.company_field}__in": ids})

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> Any:
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404("Not found.")
        return obj

    def _company_id_of(self, obj: Model) -> int:
        if self.company_field == "pk":
            return int(obj.pk)
        value: Any = obj
        for part in self.company_field.split("__"):
            value = getattr(value, part)
        return int(value.pk)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(
            request.user.is_active and request.user.is_staff and _company_ids(request) != []
        )

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self.has_module_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        managed = _managed_company_ids(request)
        if managed is None:
            return True
        if obj is None:
            return bool(managed)
        return self._company_id_of(obj) in managed

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.has_change_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self.has_change_permission(request, obj)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        # Choices in forms come only from the staff member's own companies.
        ids = _company_ids(request)
        related = db_field.related_model
        if ids is not None and related is not None:
            if related._meta.model_name == "company":
                kwargs["queryset"] = related.objects.filter(pk__in=ids)
            elif any(f.name == "company" for f in related._meta.fields):
                kwargs["queryset"] = related.objects.filter(company_id__in=ids)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
