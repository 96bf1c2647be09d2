"""Which language a customer page speaks, and switching to it for the response.

Order: ``?lang=`` overrides; then the browser's ``Accept-Language``; then the languages the
caller prefers, in order (for a customer page: the customer's, then the company's). Only the
languages we ship (``settings.LANGUAGES``: en, de, fr, es) are ever chosen. Every customer
page, the PDF, the embed and the preferences page use this, so one customer sees one language
everywhere. It takes language codes, not models, so any app can use it.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.http import HttpRequest
from django.utils import translation
from django.utils.translation.trans_real import parse_accept_lang_header

DEFAULT_LANGUAGE = "en"


def supported_languages() -> tuple[str, ...]:
    return tuple(code for code, _name in settings.LANGUAGES)


def supported(code: str | None) -> str | None:
    """``"de-CH"`` -> ``"de"``; None for anything we do not ship."""
    if not code:
        return None
    base = code.strip().lower().replace("_", "-").split("-")[0]
    return base if base in supported_languages() else None


def _from_accept_language(header: str) -> str | None:
    # parse_accept_lang_header sorts by q and drops q=0; "*" never names a language.
    for code, _quality in parse_accept_lang_header(header[:500]):
        if code != "*" and (lang := supported(code)):
            return lang
    return None


def negotiate_language(request: HttpRequest, *, preferred: Iterable[str | None] = ()) -> str:
    """The page language for this request, one of the shipped languages."""
    override = request.GET.get("lang")
    if override and (lang := supported(override)):
        return lang
    if lang := _from_accept_language(request.headers.get("Accept-Language", "")):
        return lang
    for code in preferred:
        if lang := supported(code):
            return lang
    return DEFAULT_LANGUAGE


def activate_language(request: HttpRequest, *, preferred: Iterable[str | None] = ()) -> str:
    """Negotiate and switch to the language for the rest of this request (LocaleMiddleware
    then sends it as Content-Language). Returns the code, for Babel formatting."""
    lang = negotiate_language(request, preferred=preferred)
    translation.activate(lang)
    request.LANGUAGE_CODE = lang
    return lang
