"""The staff admin site: sign-in limited per IP and per account (lock-out after repeated
failures, audited; owners unlock members in the admin), and a second factor (TOTP, django-otp)
asked of every account that has an authenticator and required of owners whose company asks
for it (invoices.sign_in)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django_otp import devices_for_user
from django_otp.admin import OTPAdminAuthenticationForm

from invoices import sign_in

REFUSALS = {
    "ip": _("Too many sign-in attempts from your network. Please wait a few minutes."),
    "locked": _(
        "This account is locked after too many failed sign-ins. Try again in 15 minutes, "
        "or ask an owner of your company to unlock it."
    ),
}


class StaffLoginForm(OTPAdminAuthenticationForm):
    """Username and password, then the authenticator code when the account has an
    authenticator or must have one."""

    def clean(self) -> dict[str, Any]:
        self.cleaned_data = AdminAuthenticationForm.clean(self)
        user = self.get_user()
        if user is None:
            return self.cleaned_data
        has_device = any(devices_for_user(user, confirmed=True))
        if sign_in.otp_required(user) and not has_device:
            raise forms.ValidationError(
                _(
                    "Your company requires an authenticator app for owners. Ask an "
                    "administrator to set one up for your account."
                ),
                code="otp_device_required",
            )
        if has_device:
            self.clean_otp(user)
        return self.cleaned_data


class StaffAdminSite(admin.AdminSite):
    login_form = StaffLoginForm
    login_template = "otp/admin111/login.html"

    def has_permission(self, request: HttpRequest) -> bool:
        if not super().has_permission(request):
            return False
        user: Any = request.user
        # Verified already (a code at sign-in), or no code required of this account.
        return bool(user.is_verified()) or not sign_in.otp_required(user)

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        if request.method != "POST":
            return super().login(request, extra_context)
        username = request.POST.get("username", "")
        refusal = sign_in.login_refusal(request, username)
        if refusal:
            context = {
                **self.each_context(request),
                "title": _("Log in"),
                "refusal": REFUSALS[refusal],
                **(extra_context or {}),
            }
            # The password is not even checked: 429, and nothing counted as a failure.
            return TemplateResponse(request, "admin/staff_login_refused.html", context, status=429)
        response = super().login(request, extra_context)
        if not (300 <= response.status_code < 400):
            sign_in.login_failed(request, username)
        return response
