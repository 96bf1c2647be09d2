"""The staff admin site: sign-in limited per IP and per account (lock-out after repeated
failures, audited; owners unlock members in the admin), and a second factor (TOTP, django-otp)
asked of every account that has an authenticator and required of owners whose company asks
for it (invoices.sign_in). Staff set up their own authenticator at /admin/authenticator/
(backoffice.authenticator); an owner who must have one and has none is sent there at sign-in."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django_otp import devices_for_user
from django_otp.admin import OTPAdminAuthenticationForm

from backoffice import authenticator
from invoices import authenticators, sign_in

REFUSALS = {
    "ip": _("Too many sign-in attempts from your network. Please wait a few minutes."),
    "locked": _(
        "This account is locked after too many failed sign-ins. Try again in 15 minutes, "
        "or ask an owner of your company to unlock it."
    ),
}


class StaffLoginForm(OTPAdminAuthenticationForm):
    """Username and password, then the authenticator code when the account has an
    authenticator. An account that must have one and has none signs in with its password and
    is sent to set one up (StaffAdminSite.admin_view), reaching nothing else until then."""

    def clean(self) -> dict[str, Any]:
        self.cleaned_data = AdminAuthenticationForm.clean(self)
        user = self.get_user()
        if user is None:
            return self.cleaned_data
        if any(devices_for_user(user, confirmed=True)):
            self.clean_otp(user)
        return self.cleaned_data


# Admin views a session that must still set up its authenticator may reach (besides the
# setup page itself and signing out).
ENROLMENT_VIEWS = frozenset({"i18n_javascript"})


class StaffAdminSite(admin.AdminSite):
    login_form = StaffLoginForm
    login_template = "otp/admin111/login.html"

    def get_urls(self) -> list[Any]:
        # Not behind admin_view: a session that must still set up its authenticator has no
        # admin permission yet (has_permission), and this page is where it gets it. The page
        # asks for a signed-in, active staff account itself.
        def page(request: HttpRequest) -> HttpResponse:
            return authenticator.authenticator_page(self, request)

        view = never_cache(csrf_protect(page))
        return [path("authenticator/", view, name="staff_authenticator"), *super().get_urls()]

    def admin_view(self, view: Callable[..., Any], cacheable: bool = False) -> Any:
        inner = super().admin_view(view, cacheable)
        name = getattr(view, "__name__", "")

        @wraps(inner)
        def enrolment_first(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            user: Any = request.user
            if authenticators.enrolment_pending(user):
                if name == "logout":
                    # Django's check would send a session without admin permission to the
                    # index instead of signing it out (LogoutView checks CSRF itself).
                    return view(request, *args, **kwargs)
                if name not in ENROLMENT_VIEWS:
                    return HttpResponseRedirect(
                        reverse("admin:staff_authenticator", current_app=self.name)
                    )
            return inner(request, *args, **kwargs)

        return enrolment_first

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
        elif authenticators.enrolment_pending(request.user):  # type: ignore[arg-type]
            # Signed in with the password; the company requires an authenticator it has not.
            return HttpResponseRedirect(reverse("admin:staff_authenticator", current_app=self.name))
        return response
