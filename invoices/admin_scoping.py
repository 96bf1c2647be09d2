"""The base of every admin screen that shows tenant data. Every decision asks
``invoices.tenancy.has_capability`` about the one company concerned:

- lists and objects: only companies where the user may read; another company's object answers
  404 (not a redirect that would confirm it exists);
- add and change without an object only decide whether the buttons show; every save re-checks
  the company of the object it writes (the posted company included) and of every tenant object
  it points to, so a manager of B who reads A cannot write into A;
- form choices (companies, customers, invoices...) list only companies where the user holds the
  admin's write capability;
- actions are declared with :func:`tenant_action`, which keeps only the rows whose company grants
  the action's capability, and bulk deletion is filtered the same way."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import ForeignKey, Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from invoices.tenancy import Capability, company_ids_with


def company_ids(request: HttpRequest, capability: Capability) -> list[int] | None:
    """The user's companies with ``capability`` (None: every company, for a superuser), cached
    on the request: the admin asks once per row otherwise."""
    cache: dict[Capability, list[int] | None] = request.__dict__.setdefault("_tenant_caps", {})
    if capability not in cache:
        cache[capability] = company_ids_with(request.user, capability)
    return cache[capability]


def allows(request: HttpRequest, company_id: int | None, capability: Capability) -> bool:
    ids = company_ids(request, capability)
    if ids is None:
        return True
    return company_id is not None and company_id in ids


def company_id_of(obj: Model, company_field: str) -> int | None:
    """The id of the company ``obj`` belongs to, following ``company_field`` (``"pk"`` for a
    company itself, ``"invoice__company"`` through a relation)."""
    if company_field == "pk":
        return int(obj.pk) if obj.pk is not None else None
    *path, last = company_field.split("__")
    value: Any = obj
    for part in path:
        value = getattr(value, part, None)
        if value is None:
            return None
    raw = getattr(value, f"{last}_id", None)
    return int(raw) if raw is not None else None


def _tenant_lookup(model: type[Model]) -> str | None:
    """How a related model reaches its company, for filtering form choices."""
    if model._meta.model_name == "company" and model._meta.app_label == "invoices":
        return "pk"
    names = {f.name for f in model._meta.fields}
    if "company" in names:
        return "company"
    if "invoice" in names:
        return "invoice__company"
    return None


def tenant_action(
    capability: Capability, *, description: Any
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """An admin action that only ever sees the selected rows whose company grants
    ``capability`` to the user; the others are counted and reported, never touched. Works for
    methods (``self``) and module-level actions (``modeladmin``) alike."""

    def wrap(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def guarded(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Any]) -> Any:
            field = getattr(modeladmin, "company_field", "company")
            ids = company_ids(request, capability)
            allowed = queryset if ids is None else queryset.filter(**{f"{field}__in": ids})
            refused = queryset.count() - allowed.count()
            if refused:
                modeladmin.message_user(
                    request,
                    _("%(count)d selected row(s) skipped: you may not do this there.")
                    % {"count": refused},
                    messages.WARNING,
                )
            return func(modeladmin, request, allowed)

        guarded.capability = capability  # type: ignore[attr-defined]
        return admin.action(description=description)(guarded)

    return wrap


class TenantScopedAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    # The lookup from this model to its company id.
    company_field = "company"
    # What adding, changing and deleting rows of this admin needs, in the row's company.
    write_capability = Capability.MANAGE_INVOICES
    delete_capability: Capability | None = None  # None: the same as write_capability

    def _delete_capability(self) -> Capability:
        return self.delete_capability or self.write_capability

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        qs = super().get_queryset(request)
        ids = company_ids(request, Capability.READ)
        return qs if ids is None else qs.filter(**{f"{self.company_field}__in": ids})

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> Any:
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404("Not found.")
        return obj

    def _company_id_of(self, obj: Model) -> int | None:
        return company_id_of(obj, self.company_field)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(
            request.user.is_active
            and request.user.is_staff
            and company_ids(request, Capability.READ) != []
        )

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        if not self.has_module_permission(request):
            return False
        return obj is None or allows(request, self._company_id_of(obj), Capability.READ)

    def _may(self, request: HttpRequest, obj: Model | None, capability: Capability) -> bool:
        if not (request.user.is_active and request.user.is_staff):
            return False
        if obj is None:
            # Only whether the buttons show: saves re-check the object's own company.
            return company_ids(request, capability) != []
        return allows(request, self._company_id_of(obj), capability)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._may(request, obj, self.write_capability)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._may(request, None, self.write_capability)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._may(request, obj, self._delete_capability())

    def check_writable(self, request: HttpRequest, obj: Model) -> None:
        """Refuse a write into a company where the user lacks the write capability, or one
        that points at another company's objects (a customer of B on an invoice of A)."""
        company_id = self._company_id_of(obj)
        if not allows(request, company_id, self.write_capability):
            raise PermissionDenied
        for field in obj._meta.fields:
            if not isinstance(field, ForeignKey):
                continue
            related = getattr(obj, field.name, None)
            if not isinstance(related, Model):
                continue
            lookup = _tenant_lookup(type(related))
            if lookup is None or (lookup == "pk" and field.name == self.company_field):
                continue
            if company_id_of(related, lookup) != company_id:
                raise PermissionDenied

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        self.check_writable(request, obj)
        super().save_model(request, obj, form, change)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        self.check_writable(request, form.instance)
        super().save_formset(request, form, formset, change)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        if not self.has_delete_permission(request, obj):
            raise PermissionDenied
        super().delete_model(request, obj)

    def deletable(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        """The rows of ``queryset`` the user may delete (bulk deletion asks without an object)."""
        ids = company_ids(request, self._delete_capability())
        return queryset if ids is None else queryset.filter(**{f"{self.company_field}__in": ids})

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        super().delete_queryset(request, self.deletable(request, queryset))

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        # Choices come only from companies where the user may write what this admin writes.
        ids = company_ids(request, self.write_capability)
        related = db_field.related_model
        lookup = _tenant_lookup(related) if related is not None else None
        if ids is not None and lookup is not None:
            kwargs["queryset"] = related._default_manager.filter(**{f"{lookup}__in": ids})
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


def ledger_form_page(
    request: HttpRequest, *, title: Any, subject: str, form: Any, back_url: str
) -> HttpResponse:
    """The one admin page of the ledger's small forms (record a payment, refund, apply credit)."""
    return render(
        request,
        "admin/ledger/form.html",
        {"title": title, "subject": subject, "form": form, "back_url": back_url},
    )
