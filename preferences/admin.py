"""Admin: who wants what (read-only: only the customer changes their own preferences), the
email log, the "Send invoice by email" action used by the invoice list, and emailing a
statement from the customer admin."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from invoices.admin_scoping import TenantScopedAdmin, allows, tenant_action
from invoices.models import Customer, Invoice, Membership
from invoices.tenancy import Capability
from payments import statements
from preferences import emails
from preferences.models import (
    EmailPreference,
    ReminderSent,
    SentEmail,
    SentEmailStatus,
    StaffNotificationSettings,
)


class ReadOnlyTenantAdmin(TenantScopedAdmin):
    """Records kept for the record: staff read them and never edit them."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(EmailPreference)
class EmailPreferenceAdmin(ReadOnlyTenantAdmin):
    # Consent belongs to the customer: staff can see it, only the customer's link changes it.
    list_display = ["email", "company", "documents", "reminders", "marketing", "updated_at"]
    list_filter = ["documents", "reminders", "marketing"]
    search_fields = ["email"]
    list_select_related = ["company"]
    exclude = ["selector"]


@admin.register(SentEmail)
class SentEmailAdmin(ReadOnlyTenantAdmin):
    list_display = ["created_at", "kind", "to_email", "invoice", "status", "detail", "sent_at"]
    list_filter = ["status", "kind", "category"]
    search_fields = ["to_email", "invoice__number", "public_id", "message_id"]
    list_select_related = ["invoice"]
    date_hierarchy = "created_at"


@admin.register(ReminderSent)
class ReminderSentAdmin(ReadOnlyTenantAdmin):
    company_field = "invoice__company"
    list_display = ["invoice", "step", "created_at"]
    list_filter = ["step"]
    list_select_related = ["invoice"]


@tenant_action(Capability.MANAGE_INVOICES, description=_("Send invoice by email"))
def send_invoice_by_email(
    modeladmin: admin.ModelAdmin[Any], request: HttpRequest, queryset: QuerySet[Invoice]
) -> None:
    """Queue the invoice email for each selected invoice the user may manage."""
    outcome: dict[str, int] = {"queued": 0, "skipped": 0, "refused": 0}
    for invoice in queryset.select_related("company", "customer"):
        if not modeladmin.has_change_permission(request, invoice):
            outcome["refused"] += 1
            continue
        try:
            sent = emails.invoice_email_queue(invoice=invoice, actor=request.user)
        except emails.EmailRefused as exc:
            outcome["refused"] += 1
            modeladmin.message_user(
                request,
                _("%(number)s was not sent (%(reason)s).")
                % {"number": invoice.number, "reason": exc},
                messages.WARNING,
            )
            continue
        outcome["skipped" if sent.status == SentEmailStatus.SKIPPED else "queued"] += 1
    modeladmin.message_user(
        request,
        _("%(queued)d email(s) queued; %(skipped)d skipped (the customer opted out).") % outcome,
    )


class SentEmailInline(admin.TabularInline):  # type: ignore[type-arg]
    """On the invoice page: every email about the invoice, what became of it and when."""

    model = SentEmail
    fk_name = "invoice"
    fields = readonly_fields = ("created_at", "kind", "to_email", "status", "detail", "sent_at")
    extra = 0
    can_delete = False
    ordering = ["-created_at"]
    verbose_name_plural = _("Emails")

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        # The invoice admin (TenantScopedAdmin) already decided who sees this invoice.
        return True

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


def _statement_queued_message(sent: SentEmail) -> str:
    if sent.status == SentEmailStatus.SKIPPED:
        return str(_("Statement not sent to %(email)s: the customer turned documents off.")) % {
            "email": sent.to_email
        }
    return str(_("Statement queued for %(email)s.")) % {"email": sent.to_email}


class CustomerStatementEmailAdminMixin:
    """On the customer admin (composed in backoffice.admin, over the statement page of
    payments.admin): "Email this statement" for staff who manage the customer's invoices."""

    admin_site: Any
    get_object: Callable[..., Any]
    message_user: Callable[..., None]

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "<path:object_id>/statement/send/",
                self.admin_site.admin_view(require_POST(self.statement_send_view)),
                name="invoices_customer_statement_send",
            )
        ]
        return own + super().get_urls()  # type: ignore[misc]

    def statement_send_url(self, request: HttpRequest, customer: Any) -> str:
        if not allows(request, customer.company_id, Capability.MANAGE_INVOICES):
            return ""
        return reverse("admin:invoices_customer_statement_send", args=[customer.pk])

    def statement_send_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        customer = self.get_object(request, object_id)  # 404 outside the staff's companies
        if not allows(request, customer.company_id, Capability.MANAGE_INVOICES):
            raise PermissionDenied
        params = {name: request.POST.get(name, "") for name in statements.PARAMETERS}
        back = reverse("admin:invoices_customer_statement", args=[customer.pk])
        try:
            sent = emails.statement_email_queue(
                customer=customer, params=params, actor=request.user
            )
        except statements.StatementRefused as refused:
            self.message_user(request, refused.message, messages.ERROR)
            return HttpResponseRedirect(back)
        self.message_user(request, _statement_queued_message(sent))
        query = urlencode({k: v for k, v in params.items() if v})
        return HttpResponseRedirect(f"{back}?{query}" if query else back)


@tenant_action(Capability.MANAGE_INVOICES, description=_("Email this month's statement"))
def send_statement_by_email(
    modeladmin: admin.ModelAdmin[Any], request: HttpRequest, queryset: QuerySet[Customer]
) -> None:
    """Queue the current month's statement (in the company's currency when the customer has
    it) to each selected customer the user may manage."""
    queued = skipped = 0
    for customer in queryset.select_related("company"):
        sent = emails.statement_email_queue(customer=customer, params={}, actor=request.user)
        if sent.status == SentEmailStatus.SKIPPED:
            skipped += 1
        else:
            queued += 1
    modeladmin.message_user(
        request,
        _("%(queued)d statement(s) queued; %(skipped)d skipped (the customer opted out).")
        % {"queued": queued, "skipped": skipped},
    )


@admin.register(StaffNotificationSettings)
class StaffNotificationSettingsAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Each staff member's own notification settings, one row per company they belong to:
    nobody sees or changes anyone else's (superusers included: they are settings of a
    person). A member without a row gets their role's defaults until they save one."""

    list_display = ["membership", "comments", "payments", "first_view"]
    fields = ["membership", "comments", "payments", "first_view"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[StaffNotificationSettings]:
        return (
            super()
            .get_queryset(request)
            .filter(membership__user_id=request.user.pk or 0)
            .select_related("membership__company", "membership__user")
        )

    def _own(self, request: HttpRequest) -> QuerySet[Membership]:
        return Membership.objects.filter(user_id=request.user.pk or 0)

    def has_module_permission(self, request: HttpRequest) -> bool:
        # No query: every admin page asks this of every admin (a member without a company
        # simply finds the list empty and no membership to choose).
        return bool(request.user.is_active and request.user.is_staff)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._mine(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._mine(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.has_module_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def _mine(self, request: HttpRequest, obj: Model | None) -> bool:
        if not self.has_module_permission(request):
            return False
        return obj is None or getattr(obj, "membership", None) in self._own(request)

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> list[str]:
        return ["membership"] if obj is not None else []

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "membership":
            kwargs["queryset"] = self._own(request).filter(notification_settings__isnull=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if obj.membership.user_id != request.user.pk:
            raise PermissionDenied
        super().save_model(request, obj, form, change)
