"""Embed settings in the admin: the settings form, the snippet to copy, translation uploads and
secret rotation (the new secret is shown once). Every change goes through portal.embed.services."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from invoices.admin_scoping import TenantScopedAdmin, tenant_action
from invoices.tenancy import Capability
from portal.embed import services
from portal.embed.models import EmbedSettings, IdentifyBy
from portal.embed.validation import parse_origins, parse_translation_file


class EmbedSettingsForm(forms.ModelForm):  # type: ignore[type-arg]
    allowed_origins_text = forms.CharField(
        label=_("Allowed origins"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_(
            "One per line, like https://shop.example.com. Only these sites may show the "
            "portal in a frame, and the frame talks to no other."
        ),
    )
    translation_language = forms.ChoiceField(
        label=_("Custom strings: language"),
        required=False,
        choices=[("", "---------"), *settings.LANGUAGES],
    )
    translation_file = forms.FileField(
        label=_("Custom strings: JSON file"),
        required=False,
        help_text=_(
            'A JSON object of portal text to your text, e.g. {"Amount due": "Balance"}. '
            "Replaces that language's previous file; {} removes it."
        ),
    )

    class Meta:
        model = EmbedSettings
        fields = [
            "company",
            "mode",
            "identify_by",
            "list_paid_and_void_invoices",
            "show_all_customer_invoices",
            "require_expiring_hash",
            "detect_browser_language",
            "handle_response",
            "debug",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["allowed_origins_text"].initial = "\n".join(self.instance.allowed_origins)

    def clean_allowed_origins_text(self) -> list[str]:
        return parse_origins(self.cleaned_data.get("allowed_origins_text") or "")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        upload = cleaned.get("translation_file")
        if upload is not None:
            if not cleaned.get("translation_language"):
                self.add_error("translation_language", _("Choose the language of the file."))
            try:
                cleaned["translation_resource"] = parse_translation_file(upload.read())
            except ValidationError as exc:
                self.add_error("translation_file", exc)
        return cleaned


@admin.register(EmbedSettings)
class EmbedSettingsAdmin(TenantScopedAdmin):
    form = EmbedSettingsForm
    list_display = ["company", "mode", "identify_by", "list_paid_and_void_invoices", "updated_at"]
    list_select_related = ["company"]
    readonly_fields = ["snippet", "secret_status", "custom_strings"]
    # Saving settings shows the company's secret, which opens every customer's invoices: a key,
    # so only owners (form choices follow, see TenantScopedAdmin.formfield_for_foreignkey).
    write_capability = Capability.MANAGE_STAFF
    actions = ["rotate_secret", "rotate_secret_now"]
    fieldsets = [
        (None, {"fields": ["company", "mode", "identify_by", "allowed_origins_text"]}),
        (
            _("Security hash"),
            {"fields": ["require_expiring_hash", "secret_status"]},
        ),
        (
            _("Display"),
            {
                "fields": [
                    "list_paid_and_void_invoices",
                    "show_all_customer_invoices",
                    "detect_browser_language",
                    "translation_language",
                    "translation_file",
                    "custom_strings",
                ]
            },
        ),
        (_("Advanced"), {"fields": ["handle_response", "debug"]}),
        (_("Snippet"), {"fields": ["snippet"]}),
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # A company's settings never move to another company.
        return [*self.readonly_fields, "company"] if obj is not None else list(self.readonly_fields)

    def save_model(
        self, request: HttpRequest, obj: EmbedSettings, form: ModelForm[Any], change: bool
    ) -> None:
        self.check_writable(request, obj)
        obj.allowed_origins = form.cleaned_data["allowed_origins_text"]
        services.embed_settings_save(settings=obj, actor=request.user)
        resource = form.cleaned_data.get("translation_resource")
        if resource is not None:
            services.embed_translation_set(
                settings=obj,
                language=form.cleaned_data["translation_language"],
                resource=resource,
                actor=request.user,
            )
        new_secret = services.embed_secret_ensure(company=obj.company, actor=request.user)
        if new_secret:
            self._show_secret_once(request, obj, new_secret)

    def _show_secret_once(self, request: HttpRequest, obj: EmbedSettings, secret: str) -> None:
        self.message_user(
            request,
            format_html(
                "{} <code>{}</code>",
                _(
                    "Embed secret of %(company)s (copy it to your server now; "
                    "it is not shown again):"
                )
                % {"company": obj.company.name},
                secret,
            ),
            messages.WARNING,
        )

    @admin.display(description=_("Secret"))
    def secret_status(self, obj: EmbedSettings) -> str:
        secret = getattr(obj.company, "embed_secret", None) if obj.pk else None
        if secret is None:
            return str(_("Created when you save; shown once."))
        text = _("Current secret set %(when)s.") % {
            "when": secret.rotated_at.strftime("%Y-%m-%d %H:%M UTC")
        }
        if secret.previous_accepted_at(timezone.now()) and secret.previous_valid_until:
            text += " " + _("The previous one is accepted until %(until)s.") % {
                "until": secret.previous_valid_until.strftime("%Y-%m-%d %H:%M UTC")
            }
        return str(text + " " + _("Rotate it with the actions of the list."))

    @admin.display(description=_("Custom strings"))
    def custom_strings(self, obj: EmbedSettings) -> str:
        if not obj.translations:
            return str(_("None"))
        return ", ".join(
            f"{language}: {len(resource)}"
            for language, resource in sorted(obj.translations.items())
        )

    @admin.display(description=_("Snippet for your site"))
    def snippet(self, obj: EmbedSettings) -> SafeString:
        if not obj.pk:
            return format_html("{}", _("Save first."))
        identifier = (
            "CUSTOMER_EXTERNAL_ID"
            if obj.identify_by == IdentifyBy.EXTERNAL_ID
            else "CUSTOMER_EMAIL"
        )
        expires = '\n        data-expires="EXPIRES"' if obj.require_expiring_hash else ""
        code = (
            '<div id="invoice-portal"></div>\n'
            f'<script src="{settings.PUBLIC_BASE_URL}/embed.js" async\n'
            f'        data-company="{obj.company.public_key}"\n'
            f'        data-customer="{identifier}"\n'
            f'        data-hash="HASH"{expires}></script>'
        )
        return format_html(
            '<pre class="embed-snippet" style="user-select: all">{}</pre><p>{}</p>',
            code,
            _(
                "Replace the capitals on your server for the signed-in customer; HASH is the "
                "hex HMAC-SHA256 of the identifier (or identifier.EXPIRES) with your embed "
                "secret. See docs/embed.md for code in Python, Node.js, Ruby and PHP."
            ),
        )

    def _rotate(
        self, request: HttpRequest, queryset: QuerySet[EmbedSettings], grace: dt.timedelta
    ) -> None:
        for obj in queryset.select_related("company"):
            secret = services.embed_secret_rotate(
                company=obj.company, grace=grace, actor=request.user
            )
            self._show_secret_once(request, obj, secret)

    @tenant_action(
        Capability.MANAGE_STAFF,
        description=_("Rotate the secret (the old one works 24 more hours)"),
    )
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[EmbedSettings]) -> None:
        self._rotate(request, queryset, services.DEFAULT_ROTATION_GRACE)

    @tenant_action(
        Capability.MANAGE_STAFF,
        description=_("Rotate the secret now (the old one stops working at once)"),
    )
    def rotate_secret_now(self, request: HttpRequest, queryset: QuerySet[EmbedSettings]) -> None:
        self._rotate(request, queryset, dt.timedelta(0))
