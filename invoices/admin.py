"""The admin billing staff work in. Thin: list/filter/search here, every change via services.

The invoice admin is composed with other apps' inlines, columns and mixins in
``backoffice/admin.py``, which registers it; this module offers its invoices-own part,
:class:`InvoiceAdminBase`."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from invoices import services
from invoices.admin_links import CustomerPortalLinkAdminMixin, InvoiceShareLinkAdminMixin
from invoices.admin_scoping import TenantScopedAdmin
from invoices.models import ApiKey, Company, CreditNote, Customer, Invoice, LineItem, Membership
from invoices.money import format_money
from invoices.pdf.admin_mixin import InvoicePdfAdminMixin
from invoices.selectors import UNPAID_STATUSES
from invoices.transitions import IllegalTransition


@admin.register(Company)
class CompanyAdmin(TenantScopedAdmin):
    company_field = "pk"
    list_display = ["name", "slug", "plan", "default_currency", "language"]
    search_fields = ["name", "slug"]
    readonly_fields = ["public_key", "next_invoice_sequence", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)


@admin.register(Membership)
class MembershipAdmin(TenantScopedAdmin):
    list_display = ["user", "company", "role"]
    list_filter = ["role"]
    list_select_related = ["user", "company"]


@admin.register(Customer)
class CustomerAdmin(CustomerPortalLinkAdminMixin, TenantScopedAdmin):
    list_display = ["name", "email", "external_id", "company", "public_id"]
    search_fields = ["name", "email", "external_id", "public_id"]
    list_select_related = ["company"]
    readonly_fields = ["public_id", "created_at"]


class OverdueFilter(admin.SimpleListFilter):
    title = _("overdue")
    parameter_name = "overdue"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", str(_("Overdue"))), ("no", str(_("Not overdue")))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        overdue = {"status__in": UNPAID_STATUSES, "due_date__lt": timezone.localdate()}
        if self.value() == "yes":
            return queryset.filter(**overdue)
        if self.value() == "no":
            return queryset.exclude(**overdue)
        return queryset


class LineItemInline(admin.TabularInline):  # type: ignore[type-arg]
    model = LineItem
    extra = 1
    fields = ["position", "description", "quantity", "unit_amount", "tax_rate", "amount"]
    readonly_fields = ["amount"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Lines of a finalized invoice are part of a legal document: editable in drafts only.
        return obj is None or obj.status == "draft"

    has_add_permission = has_change_permission  # type: ignore[assignment]
    has_delete_permission = has_change_permission


class InvoiceAdminBase(InvoicePdfAdminMixin, InvoiceShareLinkAdminMixin, TenantScopedAdmin):
    """The invoice admin without other apps' parts (registered by ``backoffice.admin``)."""

    list_display = [
        "number",
        "customer",
        "status",
        "total_display",
        "due_display",
        "due_date",
    ]
    list_filter = ["status", OverdueFilter, "currency"]
    search_fields = ["number", "customer__name", "customer__email", "public_id"]
    list_select_related = ["customer", "company"]
    date_hierarchy = "issue_date"
    inlines = [LineItemInline]
    readonly_fields = [
        "public_id",
        "number",
        "sequence",
        "status",
        "subtotal",
        "tax_total",
        "total",
        "amount_paid",
        "finalized_at",
        "paid_at",
        "created_at",
        "pdf_link",
    ]
    actions = ["finalize", "void", "mark_uncollectible"]

    @admin.display(description=_("Total"), ordering="total")
    def total_display(self, invoice: Invoice) -> str:
        return format_money(invoice.total, invoice.currency, "en")

    @admin.display(description=_("Amount due"))
    def due_display(self, invoice: Invoice) -> str:
        return format_money(invoice.amount_due, invoice.currency, "en")

    def save_model(
        self, request: HttpRequest, obj: Invoice, form: ModelForm[Any], change: bool
    ) -> None:
        if change:
            super().save_model(request, obj, form, change)
        else:
            services.invoice_save_new(invoice=obj, actor=request.user)

    def save_related(
        self, request: HttpRequest, form: ModelForm[Any], formsets: Any, change: bool
    ) -> None:
        super().save_related(request, form, formsets, change)
        services.invoice_recalculate(invoice=form.instance)

    def _run_transition(self, request: HttpRequest, queryset: QuerySet[Invoice], verb: str) -> None:
        action = {
            "finalize": services.invoice_finalize,
            "void": services.invoice_void,
            "mark_uncollectible": services.invoice_mark_uncollectible,
        }[verb]
        done = 0
        for invoice in queryset:
            if not self.has_change_permission(request, invoice):
                continue
            try:
                action(invoice=invoice, actor=request.user)
                done += 1
            except IllegalTransition as exc:
                self.message_user(request, f"{invoice.number}: {exc}", messages.WARNING)
        self.message_user(request, _("%(count)d invoice(s) updated.") % {"count": done})

    @admin.action(description=_("Finalize selected drafts"))
    def finalize(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> None:
        self._run_transition(request, queryset, "finalize")

    @admin.action(description=_("Void selected invoices"))
    def void(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> None:
        self._run_transition(request, queryset, "void")

    @admin.action(description=_("Mark selected invoices uncollectible"))
    def mark_uncollectible(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> None:
        self._run_transition(request, queryset, "mark_uncollectible")


@admin.register(CreditNote)
class CreditNoteAdmin(TenantScopedAdmin):
    list_display = ["number", "customer", "status", "amount_display", "issued_at"]
    list_filter = ["status", "currency"]
    search_fields = ["number", "customer__name", "customer__email"]
    list_select_related = ["customer"]
    readonly_fields = ["public_id", "created_at"]

    @admin.display(description=_("Amount"), ordering="amount")
    def amount_display(self, note: CreditNote) -> str:
        return format_money(note.amount, note.currency, "en")


@admin.register(ApiKey)
class ApiKeyAdmin(TenantScopedAdmin):
    list_display = ["prefix", "name", "company", "created_at", "last_used_at", "revoked_at"]
    list_select_related = ["company"]
    fields = ["company", "name"]
    actions = ["revoke"]

    def save_model(
        self, request: HttpRequest, obj: ApiKey, form: ModelForm[Any], change: bool
    ) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        key, raw_key = services.api_key_create(
            company=obj.company, name=obj.name, actor=request.user
        )
        obj.pk = key.pk
        # Shown once; only a hash is kept.
        self.message_user(
            request, _("New API key (copy it now, it will not be shown again): %s") % raw_key
        )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    @admin.action(description=_("Revoke selected keys"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for key in queryset.filter(revoked_at__isnull=True):
            services.api_key_revoke(key=key, actor=request.user)
        self.message_user(request, _("Keys revoked."))
