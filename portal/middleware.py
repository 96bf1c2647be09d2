"""Headers every customer-facing response carries, whatever view (or 404) produced it."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import translation

# Paths a customer opens without logging in (the contract's "customer-facing pages").
CUSTOMER_FACING_PREFIXES = (
    "/invoice/",
    "/portal/",
    "/preferences/",
    "/unsubscribe/",
    "/embed/",
    "/embed.js",
    "/pay/",
    "/c/",
    "/sign-in/",
)


def is_customer_facing(path: str) -> bool:
    return path.startswith(CUSTOMER_FACING_PREFIXES)


class CustomerFacingHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language_before = translation.get_language()
        response = self.get_response(request)
        if is_customer_facing(request.path):
            # A customer page may switch language for itself (core.i18n.activate_language):
            # name it in Content-Language (LocaleMiddleware only fills a missing header), then
            # hand the thread back the language it had, so no later work inherits a customer's.
            response.headers.setdefault("Content-Language", translation.get_language())
            if language_before:
                translation.activate(language_before)
            else:
                translation.deactivate()
            # Token pages are personal: never cached by browsers or proxies, never indexed,
            # and the token never leaks to other sites through the Referer header.
            response["Cache-Control"] = "no-store"
            response["X-Robots-Tag"] = "noindex, nofollow"
            response["Referrer-Policy"] = "no-referrer"
            response["X-Content-Type-Options"] = "nosniff"
        return response
