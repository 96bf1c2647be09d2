"""Staff and customer sessions: the active sessions listed (per customer, per company), and
signing a customer out everywhere. The customer admin takes the mixin and the action (composed
in backoffice.admin); the session list stands on its own."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from invoices.admin_scoping import TenantScopedAdmin, tenant_action
from invoices.models import Customer
from invoices.tenancy import Capability

from . import services
from .models import SESSION_IDLE, CustomerSession


class LiveFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "live"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", str(_("Active"))), ("no", str(_("Ended")))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        now = timezone.now()
        live = {
            "revoked_at__isnull": True,
            "expires_at__gt": now,
            "last_seen_at__gt": now - SESSION_IDLE,
        }
        if self.value() == "yes":
            return queryset.filter(**live)
        if self.value() == "no":
            return queryset.exclude(**live)
        return queryset


@tenant_action(Capability.MANAGE_INVOICES, description=_("Sign out of the selected sessions"))
def end_sessions(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Any]) -> None:
    ended = 0
    for session in queryset.filter(revoked_at__isnull=True).select_related("company", "customer"):
        if services.session_revoke(session=session):
            ended += 1
            services.session_revoked_record(session=session, actor=request.user)
    modeladmin.message_user(request, _("%(count)d session(s) ended.") % {"count": ended})


@admin.register(CustomerSession)
class CustomerSessionAdmin(TenantScopedAdmin):
    """Read-only: sessions are opened by signing in, and ended by the action."""

    list_display = [
        "customer",
        "company",
        "opened_by",
        "created_at",
        "last_seen_at",
        "expires_at",
        "ip",
        "active",
    ]
    list_filter = [LiveFilter, "opened_by"]
    list_select_related = ["customer", "company"]
    search_fields = ["customer__name", "customer__email", "customer__public_id", "ip"]
    # Never the selector: with SECRET_KEY it would be a usable cookie.
    fields = (
        "customer",
        "company",
        "invoice",
        "opened_by",
        "ip",
        "user_agent",
        "created_at",
        "last_seen_at",
        "expires_at",
        "revoked_at",
    )
    readonly_fields = fields
    actions = [end_sessions]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(boolean=True, description=_("active"))
    def active(self, obj: CustomerSession) -> bool:
        return obj.is_live()


@tenant_action(Capability.MANAGE_INVOICES, description=_("Sign out everywhere"))
def sign_out_everywhere(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Any]) -> None:
    ended = 0
    for customer in queryset.select_related("company"):
        ended += services.customer_sign_out_everywhere(customer=customer, actor=request.user)
    modeladmin.message_user(
        request,
        _("Signed out everywhere: %(count)d session(s) ended.") % {"count": ended},
        messages.SUCCESS,
    )


class CustomerSessionsAdminMixin:
    """On the customer admin: the customer's active sessions (linked to the list), and the
    automatic sign-out when staff change the customer's email address."""

    @admin.display(description=_("Active sessions"))
    def active_sessions(self, obj: Customer) -> str:
        if obj.pk is None:
            return "-"
        from .selectors import live_sessions

        count = live_sessions(customer=obj).count()
        url = reverse("admin:customer_sessions_customersession_changelist")
        return format_html(
            '<a href="{}?customer__id__exact={}&amp;live=yes">{}</a>', url, obj.pk, count
        )

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        old_email = ""
        if change and obj.pk is not None:
            old_email = (
                Customer.objects.filter(pk=obj.pk).values_list("email", flat=True).first() or ""
            )
        super().save_model(request, obj, form, change)  # type: ignore[misc]
        if change and old_email.casefold() != obj.email.casefold():
            services.customer_sign_out_everywhere(
                customer=obj, actor=request.user, reason="email_changed"
            )
