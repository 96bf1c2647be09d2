"""Which language a customer page speaks, and switching to it for the response.

Order (issue 3): ``?lang=`` overrides; then the browser's ``Accept-Language``; then the
customer's preferred language; then the company's language. Only the languages we ship
(en, de, fr, es) are ever chosen. The invoice page, the portal, the embed and the preferences
page all use this, so one customer sees one language everywhere.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.utils import translation
from django.utils.translation.trans_real import parse_accept_lang_header

from invoices.models import Company, Customer

DEFAULT_LANGUAGE = "en"


def supported_languages() -> tuple[str, ...]:
    return tuple(code for code, _name in settings.LANGUAGES)


def _supported(code: str | None) -> str | None:
    """``"de-CH"`` -> ``"de"``; None for anything we do not ship."""
    if not code:
        return None
    base = code.strip().lower().replace("_", "-").split("-")[0]
    return base if base in supported_languages() else None


def _from_accept_language(header: str) -> str | None:
    # parse_accept_lang_header sorts by q and drops q=0; "*" never names a language.
    for code, _quality in parse_accept_lang_header(header[:500]):
        if code != "*" and (lang := _supported(code)):
            return lang
    return None


def negotiate_language(
    request: HttpRequest, *, customer: Customer | None, company: Company | None
) -> str:
    """The page language for this request, one of en/de/fr/es."""
    override = request.GET.get("lang")
    if override and (lang := _supported(override)):
        return lang
    if lang := _from_accept_language(request.headers.get("Accept-Language", "")):
        return lang
    if customer is not None and (lang := _supported(customer.preferred_language)):
        return lang
    if company is not None and (lang := _supported(company.language)):
        return lang
    return DEFAULT_LANGUAGE


def activate_language(
    request: HttpRequest, *, customer: Customer | None, company: Company | None
) -> str:
    """Negotiate and switch to the language for the rest of this request (LocaleMiddleware
    then sends it as Content-Language). Returns the code, for Babel formatting."""
    lang = negotiate_language(request, customer=customer, company=company)
    translation.activate(lang)
    request.LANGUAGE_CODE = lang
    return lang
