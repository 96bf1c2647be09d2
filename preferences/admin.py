"""Admin: who wants what (read-only: only the customer changes their own preferences), the
email log, and the "Send invoice by email" action used by the invoice list."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from invoices.admin_scoping import TenantScopedAdmin, tenant_action
from invoices.models import Invoice
from invoices.tenancy import Capability
from preferences import emails
from preferences.models import EmailPreference, ReminderSent, SentEmail, SentEmailStatus


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
