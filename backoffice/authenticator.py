"""The staff member's own authenticator page in the admin (/admin/authenticator/): set one up
from a QR code and confirm it with a code, replace it, or remove it (each with a code of the
current one). An owner whose company requires an authenticator and who has none is sent here
right after the password, and reaches nothing else until it is confirmed."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.admin import AdminSite
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_otp import login as otp_login

from invoices import authenticators, sign_in

CODE_ATTRS = {"autocomplete": "one-time-code", "inputmode": "numeric", "pattern": "[0-9 ]*"}


class ConfirmForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Code from the app"),
        max_length=12,
        widget=forms.TextInput(attrs=CODE_ATTRS),
    )
    current_code = forms.CharField(
        label=gettext_lazy("Code from your current authenticator app"),
        max_length=12,
        required=False,
        widget=forms.TextInput(attrs=CODE_ATTRS),
    )


class RemoveForm(forms.Form):
    current_code = forms.CharField(
        label=gettext_lazy("Code from your current authenticator app"),
        max_length=12,
        widget=forms.TextInput(attrs=CODE_ATTRS),
    )


def _may_use(request: HttpRequest) -> bool:
    user: Any = request.user
    return bool(user.is_authenticated and user.is_active and user.is_staff)


def authenticator_page(site: AdminSite, request: HttpRequest) -> HttpResponse:
    """GET: the QR code of a pending authenticator and the forms. POST ``action=confirm`` or
    ``action=remove``: 400 with the page's error state when a code is wrong. (Routed by
    StaffAdminSite.get_urls, never cached, CSRF-protected.)"""
    if not _may_use(request):
        return HttpResponseRedirect(f"{reverse('admin:login')}?next={request.path}")
    user: Any = request.user
    current = authenticators.authenticator_active(user)
    confirm_form = ConfirmForm(prefix="confirm")
    remove_form = RemoveForm(prefix="remove")
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "confirm":
            confirm_form = ConfirmForm(request.POST, prefix="confirm")
            if confirm_form.is_valid():
                try:
                    device = authenticators.authenticator_confirm(
                        user=user,
                        code=confirm_form.cleaned_data["code"],
                        current_code=confirm_form.cleaned_data["current_code"],
                    )
                except authenticators.AuthenticatorRefused as exc:
                    confirm_form.add_error(exc.field, exc.message)
                else:
                    # This session has now shown a code: it is verified, as at sign-in.
                    otp_login(request, device)
                    messages.success(request, _("Your authenticator app is set up."))
                    return HttpResponseRedirect(reverse("admin:index"))
        elif action == "remove":
            remove_form = RemoveForm(request.POST, prefix="remove")
            if remove_form.is_valid():
                try:
                    authenticators.authenticator_remove(
                        user=user, current_code=remove_form.cleaned_data["current_code"]
                    )
                except authenticators.AuthenticatorRefused as exc:
                    remove_form.add_error(exc.field, exc.message)
                else:
                    messages.success(request, _("Your authenticator app was removed."))
                    return HttpResponseRedirect(reverse("admin:staff_authenticator"))
        status = 400
    pending = authenticators.authenticator_pending(user)
    context = {
        **site.each_context(request),
        "title": _("Authenticator app"),
        "current": current,
        "required": sign_in.otp_required(user),
        "enrolment_pending": authenticators.enrolment_pending(user),
        "qr_svg": authenticators.authenticator_qr_svg(pending),
        "secret": authenticators.authenticator_secret(pending),
        "confirm_form": confirm_form,
        "remove_form": remove_form,
    }
    return TemplateResponse(request, "admin/authenticator.html", context, status=status)
