"""``/portal/<token>/billing-details``: the customer's billing details, and a form for the ones
the company lets them change; ``/portal/billing-email/<token>``: the link that confirms a new
billing email (a GET only shows a Confirm button: mail scanners open links).

Bad portal or confirmation tokens get the one not-found page. A refused or invalid post answers
400 with the page's error state and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from core.http import not_found
from core.i18n import activate_language
from invoices.document import brand_color
from invoices.models import Customer
from invoices.selectors import customer_languages
from portal.account.layout import Account, account_context, account_for_request

from . import fields as checks
from .selectors import editable_fields, pending_email_change
from .services import (
    BillingDetailsInvalid,
    BillingDetailsRefused,
    billing_details_update,
    billing_email_change_confirm,
    billing_email_change_for_token,
    field_label,
)

# How each field is typed and what browsers may fill it with.
_INPUTS: dict[str, dict[str, str]] = {
    "name": {"type": "text", "autocomplete": "organization"},
    "address_line1": {"type": "text", "autocomplete": "address-line1"},
    "address_line2": {"type": "text", "autocomplete": "address-line2"},
    "postal_code": {"type": "text", "autocomplete": "postal-code"},
    "city": {"type": "text", "autocomplete": "address-level2"},
    "region": {"type": "text", "autocomplete": "address-level1"},
    "country": {"type": "select", "autocomplete": "country"},
    "email": {"type": "email", "autocomplete": "email"},
    "phone": {"type": "tel", "autocomplete": "tel"},
    "tax_id": {"type": "text", "autocomplete": "off"},
    "buyer_reference": {"type": "text", "autocomplete": "off"},
    "preferred_language": {"type": "select", "autocomplete": "language"},
}
_ORDER = list(_INPUTS)
_LANGUAGE_NAMES = {"en": "English", "de": "Deutsch", "fr": "Français", "es": "Español"}


@dataclass
class FormField:
    name: str
    label: str
    value: str
    type: str
    autocomplete: str
    error: str = ""
    hint: str = ""
    required: bool = False
    maxlength: int = 200
    choices: list[tuple[str, str]] = field(default_factory=list)


def _hint(name: str) -> str:
    return {
        "email": _("We send a link to the new address; it changes once you confirm it there."),
        "tax_id": _("Your VAT number with its country prefix, like DE136695976."),
        "buyer_reference": _("A purchase order or reference to quote on your invoices."),
        "phone": _("With the country code, like +49 30 1234567."),
    }.get(name, "")


def _choices(name: str, lang: str) -> list[tuple[str, str]]:
    if name == "country":
        return [("", _("No country")), *checks.countries(lang)]
    if name == "preferred_language":
        return [("", _("The company's language")), *_LANGUAGE_NAMES.items()]
    return []


def _current(customer: Customer, name: str, lang: str) -> str:
    value = str(getattr(customer, name, "") or "")
    if name == "country" and value:
        return dict(checks.countries(lang)).get(value, value)
    if name == "preferred_language" and value:
        return _LANGUAGE_NAMES.get(value, value)
    return value


def _page(
    request: HttpRequest,
    account: Account,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    refusal: str = "",
    status: int = 200,
) -> HttpResponse:
    customer, lang = account.customer, account.lang
    editable = set(editable_fields(customer))
    values = values or {}
    errors = errors or {}
    form_fields = [
        FormField(
            name=name,
            label=field_label(name),
            value=values.get(name, str(getattr(customer, name, "") or "")),
            error=errors.get(name, ""),
            hint=_hint(name),
            required=name in ("name", "email"),
            maxlength=checks.MAX_LENGTHS.get(name, 200),
            choices=_choices(name, lang),
            **_INPUTS[name],
        )
        for name in _ORDER
        if name in editable
    ]
    shown = [
        {"label": field_label(name), "value": _current(customer, name, lang)}
        for name in _ORDER
        if name not in editable
    ]
    context: dict[str, Any] = {
        **account_context(account, active="portal_billing_details"),
        "form_fields": form_fields,
        # The name first, then the address as one group, then the rest.
        "name_fields": [f for f in form_fields if f.name == "name"],
        "address_fields": [f for f in form_fields if checks.FIELD_GROUP[f.name] == "address"],
        "other_fields": [
            f for f in form_fields if checks.FIELD_GROUP[f.name] not in ("name", "address")
        ],
        "errors": [(f.name, f.label, f.error) for f in form_fields if f.error],
        "shown": shown,
        "refusal": refusal,
        "saved": request.method == "GET" and request.GET.get("saved") == "1",
        "pending": pending_email_change(customer=customer),
    }
    return render(request, "portal/billing_details.html", context, status=status)


@csrf_exempt  # the token in the URL is the credential, no cookie (as the other portal posts)
@require_http_methods(["GET", "HEAD", "POST"])
def billing_details_page(request: HttpRequest, token: str) -> HttpResponse:
    # Queries (GET): the customer with its company (the token), whether they have documents
    # (the Documents tab), a pending email change.
    account = account_for_request(request, token)
    if account is None:
        return not_found(request)
    if request.method != "POST":
        return _page(request, account)
    posted = request.POST.dict()
    try:
        billing_details_update(customer=account.customer, posted=posted)
    except BillingDetailsInvalid as invalid:
        values = {checks.POSTED_ALIASES.get(k, k): v for k, v in posted.items()}
        return _page(request, account, values=values, errors=invalid.errors, status=400)
    except BillingDetailsRefused as refused:
        return _page(request, account, refusal=refused.message, status=refused.status)
    return HttpResponseRedirect(
        f"/portal/{token}/billing-details?saved=1&lang={account.lang}", status=303
    )


@csrf_exempt  # the link's token is the credential
@require_http_methods(["GET", "HEAD", "POST"])
def billing_email_confirm(request: HttpRequest, confirm_token: str) -> HttpResponse:
    change = billing_email_change_for_token(confirm_token)
    if change is None:
        return not_found(request)
    customer = change.customer
    lang = activate_language(request, preferred=customer_languages(customer, customer.company))
    context = {
        "new_email": change.new_email,
        "confirmed": False,
        "lang": lang,
        "brand_color": brand_color(customer.company),
        "company_name": customer.company.name,
    }
    if request.method == "POST":
        if billing_email_change_confirm(token=confirm_token) is None:
            return not_found(request)
        context["confirmed"] = True
    return render(request, "portal/billing_email_confirm.html", context)
