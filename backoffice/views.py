"""The page an invited person opens from the invitation email: GET shows the form (and changes
nothing, since mail scanners open links); POST creates the staff account and membership."""

from __future__ import annotations

from django import forms
from django.contrib.auth import password_validation
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from core.errors import ApplicationError
from core.http import not_found
from invoices import staff


class AcceptInvitationForm(forms.Form):
    username = forms.RegexField(
        label=_("Username"), max_length=150, regex=r"^[\w.@+-]+\Z", strip=True
    )
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput, strip=False)

    def clean_password(self) -> str:
        password: str = self.cleaned_data["password"]
        password_validation.validate_password(password)
        return password


@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    invitation = staff.invitation_for_token(token)
    if invitation is None:
        return not_found(request)
    form = AcceptInvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            staff.invitation_accept(
                token=token,
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password"],
            )
        except ApplicationError as exc:
            if exc.status == 404:
                return not_found(request)
            form.add_error(exc.field, exc.message)
        else:
            return HttpResponseRedirect("/admin/login/", status=303)
    return render(request, "backoffice/invitation.html", {"form": form, "invitation": invitation})
