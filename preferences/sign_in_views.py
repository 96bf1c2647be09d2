"""Customers sign in: the company's portal entry (``/c/<slug>/``), the email sign-in form, and
the one-time link (``/sign-in/<token>``) that the email and the API's magic links carry.

These pages stand on the preferences floor because the sign-in email is built with the
customer email pipeline (``preferences.sign_in_email``, sent from Celery).

- The form's answer is the same page, byte for byte, whether or not the address is a
  customer's: the lookup and the sending happen later, in Celery. Its limits (per IP and
  company, per address, and a debounce per address) fail closed: with Redis down nothing is
  sent and the answer is a 503.
- A GET of the link only shows a Continue button (mail scanners open links); the POST uses it,
  once, and answers 303 into the page it was made for. A used, expired, unknown or forged link
  gets the one not-found page.
- CSRF: no Django check, as on the other customer forms (customer pages send
  ``Referrer-Policy: no-referrer``, so browsers post ``Origin: null``). The form changes nothing
  but a queued email to an address the poster types; the link's token is its own credential.
"""

from __future__ import annotations

import json
import logging
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from core.http import not_found
from core.i18n import activate_language
from core.ratelimits import RateLimitUnavailable, client_key, over_limit
from invoices.customer_sessions import services as sessions
from invoices.customer_sessions.cookies import (
    request_origin,
    session_cookie_set,
    session_from_request,
)
from invoices.customer_sessions.models import SignInLink, SignInPage
from invoices.customer_sessions.selectors import sign_in_link_for_token
from invoices.document import brand_color
from invoices.models import Company
from invoices.selectors import customer_languages
from preferences import tasks

logger = logging.getLogger(__name__)

EMAIL_MAX_LENGTH = 254
# Sign-in requests from one IP to one company; per address (any IP); and a short debounce per
# address, so a double click or a script sends one email, not many.
IP_RATE = "20/h"
ADDRESS_RATE = "5/h"
ADDRESS_DEBOUNCE = "1/m"


def _company(slug: str) -> Company | None:
    return Company.objects.filter(slug=slug).first()


def _entry_context(company: Company, **extra: object) -> dict[str, object]:
    return {"company_name": company.name, "brand_color": brand_color(company), **extra}


def _sso_redirect(company: Company, return_to: str) -> HttpResponse:
    """The company's own sign-in page, told which page to come back to (a page name)."""
    parts = urlsplit(company.portal_sign_in_url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "return_to"]
    query.append(("return_to", return_to))
    return HttpResponseRedirect(urlunsplit(parts._replace(query=urlencode(query))))


@require_http_methods(["GET", "HEAD"])
def portal_entry(request: HttpRequest, slug: str) -> HttpResponse:
    """The company's portal entry: a signed-in customer of this company goes to the account;
    otherwise the company's single sign-on page when it set one, else the email form."""
    company = _company(slug)
    if company is None:
        return not_found(request)
    session = session_from_request(request, company_id=company.pk)
    if session is not None and session.invoice_id is None:
        link = SignInLink(customer=session.customer, page=SignInPage.HOME)
        return HttpResponseRedirect(sessions.sign_in_location(link), status=303)
    if company.portal_sign_in_url:
        wanted = request.GET.get("return_to", "")
        return _sso_redirect(company, wanted if wanted in SignInPage.values else SignInPage.HOME)
    activate_language(request, preferred=customer_languages(None, company))
    return render(
        request,
        "sign_in/entry.html",
        _entry_context(company, action=f"/c/{company.slug}/sign-in"),
    )


def _posted_email(request: HttpRequest) -> str:
    """The ``email`` field of a form post (or of a JSON object, for scripts)."""
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except (ValueError, RecursionError):
            return ""
        value = data.get("email") if isinstance(data, dict) else None
        return value if isinstance(value, str) else ""
    return request.POST.get("email", "")


def _form_error(request: HttpRequest, company: Company, email: str, message: str) -> HttpResponse:
    return render(
        request,
        "sign_in/entry.html",
        _entry_context(company, action=f"/c/{company.slug}/sign-in", email=email, error=message),
        status=400,
    )


def _refused(request: HttpRequest, company: Company, status: int, message: str) -> HttpResponse:
    response = render(
        request, "sign_in/refused.html", _entry_context(company, message=message), status=status
    )
    response["Retry-After"] = "60" if status == 429 else "300"
    return response


@csrf_exempt
@require_POST
def sign_in_request(request: HttpRequest, slug: str) -> HttpResponse:
    """Ask for a sign-in email. The answer never says whether the address is a customer's."""
    company = _company(slug)
    if company is None:
        return not_found(request)
    lang = activate_language(request, preferred=customer_languages(None, company))
    email = " ".join(_posted_email(request).split())
    try:
        validate_email(email)
        if len(email) > EMAIL_MAX_LENGTH:
            raise ValidationError("too long")
    except ValidationError:
        return _form_error(
            request, company, email[:EMAIL_MAX_LENGTH], _("Enter a valid email address.")
        )
    address = email.lower()
    try:
        too_many = over_limit(
            request,
            group="sign-in.ip",
            rate=IP_RATE,
            key=f"{company.pk}:{client_key(request)}",
            fail_closed=True,
        ) or over_limit(
            request,
            group="sign-in.address",
            rate=ADDRESS_RATE,
            key=f"{company.pk}:{address}",
            fail_closed=True,
        )
        if too_many:
            return _refused(
                request, company, 429, _("Too many sign-in requests. Wait a little and try again.")
            )
        just_sent = over_limit(
            request,
            group="sign-in.debounce",
            rate=ADDRESS_DEBOUNCE,
            key=f"{company.pk}:{address}",
            fail_closed=True,
        )
    except RateLimitUnavailable:
        return _refused(
            request,
            company,
            503,
            _("Signing in is not possible right now. Try again in a few minutes."),
        )
    if not just_sent:
        company_id = company.pk

        def queue() -> None:
            tasks.send_sign_in_email.apply_async((company_id, address, lang), ignore_result=True)

        # robust: a broker hiccup is logged, and the answer stays the same page.
        transaction.on_commit(queue, robust=True)
    # Nothing on this page depends on the address being a customer's, nor on the request
    # (no nonce, no token): the same bytes for every address.
    return render(
        request, "sign_in/check_email.html", {"company_name": company.name, "email": email}
    )


@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def sign_in_link(request: HttpRequest, token: str) -> HttpResponse:
    """GET: a Continue button, nothing changes. POST: sign in (once) and go to the page."""
    if request.method == "POST":
        ip, user_agent = request_origin(request)
        try:
            signed_in = sessions.sign_in_link_redeem(
                token=token,
                ip=ip,
                user_agent=user_agent,
                replaces=session_from_request(request),
            )
        except sessions.SignInLinkInvalid:
            return not_found(request)
        response = HttpResponseRedirect(signed_in.location, status=303)
        session_cookie_set(response, request, signed_in.opened)
        return response
    link = sign_in_link_for_token(token)
    if link is None:
        return not_found(request)
    activate_language(request, preferred=customer_languages(link.customer, link.company))
    return render(
        request,
        "sign_in/continue.html",
        _entry_context(link.company, customer_name=link.customer.name, action=request.path),
    )
