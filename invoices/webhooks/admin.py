"""Webhook endpoints and their delivery log, scoped to the staff member's companies."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from core.errors import ApplicationError
from invoices.admin_scoping import TenantScopedAdmin, tenant_action
from invoices.tenancy import Capability
from invoices.webhooks import services
from invoices.webhooks.models import EVENT_TYPES, WebhookAttempt, WebhookDelivery, WebhookEndpoint


class WebhookEndpointForm(forms.ModelForm):  # type: ignore[type-arg]
    url = forms.URLField(max_length=2000, assume_scheme="https")
    events = forms.MultipleChoiceField(
        choices=[(name, name) for name in EVENT_TYPES], widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["company", "url", "events", "description"]


class RecentDeliveryInline(admin.TabularInline):  # type: ignore[type-arg]
    model = WebhookDelivery
    fields = readonly_fields = (
        "event",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "created_at",
    )
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True
    ordering = ["-created_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).select_related("event")

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return True


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(TenantScopedAdmin):
    form = WebhookEndpointForm
    list_display = ["url", "company", "is_active", "failing_since", "disabled_at", "created_at"]
    list_filter = ["is_active"]
    list_select_related = ["company"]
    readonly_fields = [
        "public_id",
        "is_active",
        "failing_since",
        "disabled_at",
        "disabled_reason",
        "previous_secret_expires_at",
        "created_at",
    ]
    inlines = [RecentDeliveryInline]
    actions = ["enable", "rotate_secret"]
    # Endpoints hold signing secrets and send the company's data out: like API keys, owners.
    write_capability = Capability.MANAGE_STAFF

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "company"] if obj is not None else fields

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        data = form.cleaned_data
        # The posted company is re-checked whatever the form offered.
        self.check_writable(request, obj)
        if change:
            super().save_model(request, obj, form, change)
            return
        try:
            endpoint, secret = services.endpoint_create(
                company=data["company"],
                url=data["url"],
                events_=data["events"],
                description=data.get("description", ""),
                actor=request.user,
            )
        except ApplicationError as exc:
            # Shown as a form error would be; nothing was saved.
            raise forms.ValidationError(exc.message) from None
        obj.pk = obj.id = endpoint.pk
        self.message_user(
            request,
            _("Signing secret (shown once, keep it now): %(secret)s") % {"secret": secret},
            messages.WARNING,
        )

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change, **kwargs)

        class Checked(form):  # type: ignore[misc, valid-type]
            def clean(self) -> Any:
                data = super().clean()
                if obj is None and data.get("url"):
                    from invoices.webhooks.targets import TargetRefused, target_check_at_creation

                    try:
                        target_check_at_creation(data["url"])
                    except TargetRefused as exc:
                        self.add_error("url", exc.message)
                return data

        return Checked

    @tenant_action(Capability.MANAGE_STAFF, description=_("Enable the selected endpoints again"))
    def enable(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            services.endpoint_enable(endpoint=endpoint, actor=request.user)

    @tenant_action(
        Capability.MANAGE_STAFF,
        description=_("Rotate the signing secret (the old one signs for 24 hours)"),
    )
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            secret = services.endpoint_secret_rotate(endpoint=endpoint, actor=request.user)
            self.message_user(
                request, f"{endpoint.url}: new signing secret {secret}", messages.WARNING
            )


class AttemptInline(admin.TabularInline):  # type: ignore[type-arg]
    model = WebhookAttempt
    fields = readonly_fields = (
        "attempted_at",
        "succeeded",
        "status_code",
        "duration_ms",
        "response_excerpt",
        "error",
    )
    extra = 0
    max_num = 0
    can_delete = False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return True


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(TenantScopedAdmin):
    company_field = "endpoint__company"
    list_display = [
        "event_type",
        "event",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "created_at",
    ]
    list_filter = ["status"]
    list_select_related = ["event", "endpoint"]
    readonly_fields = [
        "event",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "payload",
        "created_at",
    ]
    fields = tuple(readonly_fields)
    inlines = [AttemptInline]
    actions = ["resend"]
    write_capability = Capability.MANAGE_STAFF

    @admin.display(description=_("Event"))
    def event_type(self, obj: WebhookDelivery) -> str:
        return obj.event.type

    @admin.display(description=_("Payload"))
    def payload(self, obj: WebhookDelivery) -> str:
        return obj.event.payload

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @tenant_action(Capability.MANAGE_STAFF, description=_("Resend now"))
    def resend(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        sent = 0
        for delivery in queryset.select_related("event", "endpoint__company"):
            services.delivery_resend(delivery=delivery, actor=request.user)
            sent += 1
        self.message_user(request, f"{sent} delivery(ies) queued again.", messages.SUCCESS)
