"""Headers every customer-facing response carries, whatever view (or 404) produced it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.utils import translation

from invoices.customization import scope
from portal.site.look import csp_update_for

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


# Files a company's domain serves that browsers may cache (hashed names).
CACHEABLE_PREFIXES = ("/static/", "/portal-assets/")

# Every customer-facing response is "no-store" (the public contract), also what only the pages'
# own scripts read (the comment thread's JSON and event stream). Chromium keeps a page whose
# script received a "no-store" response out of the back/forward cache, so the invoice page (with
# its live comment thread) is reloaded on "back"; the portal and account pages are restored.
SCRIPT_READ_CACHE_CONTROL = "no-store"

Response = TypeVar("Response", bound=HttpResponseBase)


def script_read(response: Response) -> Response:
    """Mark a customer-facing response that only the page's own scripts fetch (see above)."""
    response.script_read = True  # type: ignore[attr-defined]
    return response


def is_customer_facing(path: str) -> bool:
    return path.startswith(CUSTOMER_FACING_PREFIXES)


def _customer_facing(request: HttpRequest) -> bool:
    """A customer path, or anything but the cacheable files on a company's own domain (its
    portal entry at ``/`` included)."""
    if is_customer_facing(request.path):
        return True
    return scope.host_site() is not None and not request.path.startswith(CACHEABLE_PREFIXES)


class CustomerFacingHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language_before = translation.get_language()
        response = self.get_response(request)
        # What the page's company look added (its trusted sites, script, analytics), for
        # CSPMiddleware, which runs after this one on the way out.
        sources = csp_update_for(request)
        if sources:
            merged = dict(getattr(response, "_csp_update", None) or {})
            for directive, values in sources.items():
                merged[directive] = [*merged.get(directive, []), *values]
            response._csp_update = merged  # type: ignore[attr-defined]
        if _customer_facing(request):
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
            response["Cache-Control"] = (
                SCRIPT_READ_CACHE_CONTROL if getattr(response, "script_read", False) else "no-store"
            )
            response["X-Robots-Tag"] = "noindex, nofollow"
            response["Referrer-Policy"] = "no-referrer"
            response["X-Content-Type-Options"] = "nosniff"
        return response
