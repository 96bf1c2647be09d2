"""The customer's email preferences: the page, its JSON twin, and RFC 8058 one-click unsubscribe.

No login and no cookies: the token in the URL is the only credential. That is also why these
views are csrf_exempt: CSRF defends credentials a browser sends by itself (cookies), and here
there are none; a forging site would need the token, and with it could change nothing more
than its holder can. A GET only ever renders (mail scanners open every link); changes are
POST or PATCH.
"""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt

from core.errors import error_body
from core.http import not_found
from core.i18n import activate_language
from core.ratelimits import over_limit
from invoices.document import brand_color
from invoices.models import Customer
from invoices.selectors import customer_languages
from preferences.models import EmailCategory, EmailPreference
from preferences.selectors import email_preference_for_token
from preferences.services import (
    CATEGORIES,
    PreferenceInputError,
    email_preferences_update,
    email_unsubscribe,
    validate_preference_changes,
)

logger = logging.getLogger(__name__)

# Per client IP, reads and writes together. People flip three switches; scripts get 429.
PREFERENCES_RATE = "60/m"
# One-click POSTs arrive from mailbox providers, many users behind one provider address: a
# higher limit, still bounded. Guessing tokens is hopeless anyway (128-bit MAC, no query).
UNSUBSCRIBE_RATE = "600/m"


def _json_error(status: int, code: str, message: str, field: str | None = None) -> JsonResponse:
    return JsonResponse(error_body(code, message, field), status=status)


def _preferences_body(preference: EmailPreference) -> dict[str, bool]:
    return {category: bool(getattr(preference, category)) for category in CATEGORIES}


def _page_context(request: HttpRequest, preference: EmailPreference) -> dict[str, Any]:
    company = preference.company
    customer = (
        Customer.objects.filter(company=company, email__iexact=preference.email)
        .only("preferred_language")
        .first()
    )
    activate_language(request, preferred=customer_languages(customer, company))
    return {
        "preference": preference,
        "email": preference.email,
        "company_name": company.name,
        "brand_color": brand_color(company),
        "categories": [
            (category, EmailCategory(category).label, getattr(preference, category))
            for category in CATEGORIES
        ],
    }


def _too_many(request: HttpRequest) -> HttpResponse:
    return HttpResponse(
        "Too many requests. Please wait a minute.",
        status=429,
        content_type="text/plain",
        headers={"Retry-After": "60"},
    )


@csrf_exempt
def preferences_page(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows the three toggles; a plain form POST saves them (the page's script saves
    each change at once through the JSON endpoint instead)."""
    if request.method not in ("GET", "HEAD", "POST"):
        return HttpResponse(status=405, headers={"Allow": "GET, HEAD, POST"})
    if over_limit(request, group="preferences", rate=PREFERENCES_RATE):
        return _too_many(request)
    preference = email_preference_for_token(token)
    if preference is None:
        return not_found(request)
    if request.method == "POST":
        if request.POST.get("action") == "unsubscribe_all":
            changes = dict.fromkeys(CATEGORIES, False)
        else:
            changes = {category: category in request.POST for category in CATEGORIES}
        email_preferences_update(preference=preference, changes=changes, source="page")
        # Post/redirect/get, so reloading the page does not submit again.
        return HttpResponseRedirect(f"{request.path}?saved=1", status=303)
    context = _page_context(request, preference)
    context["saved"] = request.GET.get("saved") == "1"
    return render(request, "preferences/page.html", context)


@csrf_exempt
def preferences_json(request: HttpRequest, token: str) -> HttpResponse:
    """``GET``/``PATCH``: ``{"documents": bool, "reminders": bool, "marketing": bool}``.
    A PATCH body with anything but those keys and JSON booleans is refused whole."""
    if request.method not in ("GET", "HEAD", "PATCH"):
        response = _json_error(405, "method_not_allowed", "Use GET or PATCH.")
        response["Allow"] = "GET, HEAD, PATCH"
        return response
    if over_limit(request, group="preferences", rate=PREFERENCES_RATE):
        response = _json_error(429, "rate_limited", "Too many requests. Please wait a minute.")
        response["Retry-After"] = "60"
        return response
    preference = email_preference_for_token(token)
    if preference is None:
        return _json_error(404, "not_found", "Preferences not found.")
    if request.method == "PATCH":
        try:
            changes = validate_preference_changes(
                body=request.read(PreferenceInputError.MAX_BODY_BYTES + 1),
                content_type=request.content_type or "",
            )
        except PreferenceInputError as exc:
            return _json_error(400, exc.code, exc.message, exc.field)
        email_preferences_update(preference=preference, changes=changes, source="json")
    return JsonResponse(_preferences_body(preference))


@csrf_exempt
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """``POST /unsubscribe/<token>?c=<category>``: RFC 8058 one-click. No cookie, no CSRF
    token, no redirect: a 200 that says what was turned off. Without ``c``, every category.
    ``GET`` only shows a confirmation button (scanners and previews open links)."""
    if request.method not in ("GET", "HEAD", "POST"):
        return HttpResponse(status=405, headers={"Allow": "GET, HEAD, POST"})
    if over_limit(request, group="unsubscribe", rate=UNSUBSCRIBE_RATE):
        return _too_many(request)
    preference = email_preference_for_token(token)
    if preference is None:
        return not_found(request)
    category = request.GET.get("c")
    if category is not None and category not in CATEGORIES:
        return HttpResponse("Unknown email category.", status=400, content_type="text/plain")
    if request.method == "POST":
        email_unsubscribe(preference=preference, category=category, source="one_click")
    context = _page_context(request, preference)
    context["category_label"] = EmailCategory(category).label if category else None
    context["preferences_path"] = request.path.replace("/unsubscribe/", "/preferences/", 1)
    template = "unsubscribed" if request.method == "POST" else "unsubscribe_confirm"
    return render(request, f"preferences/{template}.html", context)
