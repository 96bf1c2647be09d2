"""Host routing: which site a request is for, before anything else reads the host.

- A host in ``ALLOWED_HOSTS``: the shared origin, as always.
- A company's portal domain: served for that company only (``invoices.customization.scope``);
  the staff and developer surfaces (admin, API, webhooks, embed) are not there, and another
  company's entry (``/c/<slug>/``) is not found.
- Anything else: 400, Django's own ``DisallowedHost`` answer.

Django checks the host against ``ALLOWED_HOSTS`` whenever something asks ``get_host()``; for a
company's domain this middleware has already checked it against the registered domains, so it
gives that one request a ``get_host`` that answers the host (nothing global changes)."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.http.request import split_domain_port, validate_host

from core.http import not_found
from invoices.customization import scope
from invoices.customization.domains import DomainSite, site_for_host

# Not on a company's domain: where staff and developers work, and what belongs to the shared
# origin (Stripe's webhooks, the embed other sites frame). The company's script runs on its
# domain; none of these may share an origin with it.
NOT_ON_COMPANY_DOMAINS = (
    "/admin",
    "/api/",
    "/webhooks/",
    "/staff/",
    "/embed",
    "/tls/",
)


def _allowed_hosts() -> list[str]:
    allowed = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]  # Django's own default under DEBUG
    return allowed


def request_site(request: HttpRequest) -> DomainSite | None:
    """The company domain the request is for, None for one of our own hosts; raises
    ``DisallowedHost`` (400) for any other host."""
    host = request._get_raw_host()  # type: ignore[attr-defined]
    domain, _port = split_domain_port(host)
    allowed = _allowed_hosts()
    named = [pattern for pattern in allowed if pattern != "*"]
    if domain and validate_host(domain, named):
        return None
    site = site_for_host(domain)
    if site is None:
        if domain and "*" in allowed:
            return None
        request.get_host()  # raises DisallowedHost: Django's 400 and security log
        return None
    request.get_host = lambda: host  # type: ignore[method-assign]
    return site


def refused_on_site(request: HttpRequest, site: DomainSite) -> bool:
    path = request.path_info
    if path.startswith(NOT_ON_COMPANY_DOMAINS):
        return True
    # Another company's entry on this company's domain.
    if path.startswith("/c/"):
        slug = path[3:].split("/", 1)[0]
        return slug != site.slug
    return False


class HostRoutingMiddleware:
    """First in MIDDLEWARE: decides the site before anything reads the host."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        site = request_site(request)
        tokens = scope.request_begin(site)
        try:
            return self.get_response(request)
        finally:
            scope.request_end(tokens)


class CompanyDomainPathsMiddleware:
    """Last in MIDDLEWARE: on a company's domain, what is not there answers the not-found
    page, with the customer pages' headers and CSP like any other answer."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        site = scope.host_site()
        if site is not None and refused_on_site(request, site):
            return not_found(request)
        return self.get_response(request)
