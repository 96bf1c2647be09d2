"""Admin for payments: the Stripe connection (secrets write-only), payments with flagged
overpayments, and stored webhook events. Thin: every change goes through payments.services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from invoices.admin_scoping import TenantScopedAdmin, tenant_action
from invoices.money import format_money
from invoices.tenancy import Capability
from payments import services
from payments.models import Payment, StripeConnection, WebhookEvent


class StripeConnectionForm(forms.ModelForm):  # type: ignore[type-arg]
    # Write-only: rendered empty, never filled from the database; blank keeps the saved one.
    secret_key = forms.CharField(
        label=_("Secret key"),
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=_(
            "sk_live_… or sk_test_…. Stored encrypted; never shown again. Leave blank to keep."
        ),
    )
    webhook_secret = forms.CharField(
        label=_("Webhook signing secret"),
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=_("whsec_…. Stored encrypted; never shown again. Leave blank to keep."),
    )

    class Meta:
        model = StripeConnection
        fields = ["company", "publishable_key", "active"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.instance.pk is None and not (data.get("secret_key") and data.get("webhook_secret")):
            raise forms.ValidationError(_("Both secrets are needed to connect Stripe."))
        if data.get("secret_key") and not data["secret_key"].strip().startswith(("sk_", "rk_")):
            self.add_error("secret_key", _("A secret key starts with sk_."))
        if data.get("webhook_secret") and not data["webhook_secret"].strip().startswith("whsec_"):
            self.add_error("webhook_secret", _("A webhook signing secret starts with whsec_."))
        return data


@admin.register(StripeConnection)
class StripeConnectionAdmin(TenantScopedAdmin):
    form = StripeConnectionForm
    # Secrets are keys: owners only.
    write_capability = Capability.MANAGE_STAFF
    list_display = ["company", "secret_key_hint", "active", "connected_at", "webhook_url"]
    list_select_related = ["company"]
    readonly_fields = ["secret_key_hint", "webhook_url", "connected_at"]

    @admin.display(description=_("Webhook URL"))
    def webhook_url(self, obj: StripeConnection) -> str:
        if obj.pk is None:
            return "—"
        return settings.PUBLIC_BASE_URL + services.webhook_path(obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # The company of an existing connection never changes.
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "company"] if obj is not None else fields

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        self.check_writable(request, obj)
        data = form.cleaned_data
        connection = services.stripe_connection_save(
            company=data.get("company") or obj.company,
            secret_key=data.get("secret_key") or None,
            webhook_secret=data.get("webhook_secret") or None,
            publishable_key=data.get("publishable_key", ""),
            active=data.get("active", True),
            actor=request.user,
        )
        obj.pk = obj.id = connection.pk
        obj.webhook_key, obj.secret_key_hint = connection.webhook_key, connection.secret_key_hint


class PaymentInline(admin.TabularInline):  # type: ignore[type-arg]
    """On the invoice page: its payments, refunds and overpayment flags (read-only)."""

    model = Payment
    fk_name = "invoice"
    fields = readonly_fields = (
        "public_id",
        "created_at",
        "amount_display",
        "amount_refunded",
        "status",
        "method",
        "source",
        "flagged_overpayment",
        "review_reason",
    )
    extra = 0
    can_delete = False
    ordering = ["-created_at"]
    verbose_name_plural = _("Payments")

    @admin.display(description=_("Amount"))
    def amount_display(self, obj: Payment) -> str:
        return format_money(obj.amount, obj.currency, "en")

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The invoice admin (TenantScopedAdmin) already decided who sees this invoice.
        return True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class FlaggedFilter(admin.SimpleListFilter):
    title = _("needs review")
    parameter_name = "flagged"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", str(_("Overpayment, to refund or credit")))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(flagged_overpayment=True) if self.value() == "yes" else queryset


@admin.register(Payment)
class PaymentAdmin(TenantScopedAdmin):
    list_display = [
        "public_id",
        "invoice",
        "amount_display",
        "status",
        "method",
        "source",
        "flagged_overpayment",
        "created_at",
    ]
    list_filter = [FlaggedFilter, "status", "method"]
    list_select_related = ["invoice", "company"]
    search_fields = ["public_id", "invoice__number", "provider_payment_intent_id"]
    actions = ["refund_in_full"]
    write_capability = Capability.MANAGE_MONEY
    readonly_fields = [f.name for f in Payment._meta.fields]

    @admin.display(description=_("Amount"), ordering="amount")
    def amount_display(self, obj: Payment) -> str:
        return format_money(obj.amount, obj.currency, "en")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @tenant_action(Capability.MANAGE_MONEY, description=_("Refund in full through Stripe"))
    def refund_in_full(self, request: HttpRequest, queryset: QuerySet[Payment]) -> None:
        for payment in queryset.select_related("company"):
            try:
                services.payment_refund(payment=payment, actor=request.user)
            except Exception as exc:  # a Stripe refusal, shown to staff
                self.message_user(request, f"{payment.public_id}: {exc}", messages.ERROR)
            else:
                self.message_user(request, _("Refund requested for %s.") % payment.public_id)


@admin.register(WebhookEvent)
class WebhookEventAdmin(TenantScopedAdmin):
    company_field = "connection__company"
    list_display = ["event_id", "type", "status", "attempts", "received_at", "processed_at"]
    list_filter = ["status", "type"]
    search_fields = ["event_id"]
    readonly_fields = [f.name for f in WebhookEvent._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
