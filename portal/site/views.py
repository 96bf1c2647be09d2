"""The company's own files (stylesheet, script), the certificate check Caddy asks before it
issues a certificate for a host name, and the portal entry at a company domain's ``/``."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from django.views.decorators.http import require_safe

from core.http import not_found
from core.staticfiles import IMMUTABLE_CACHE_CONTROL
from invoices.customization import scope
from invoices.customization.domains import DomainSite, site_for_host
from invoices.customization.validation import normalize_domain
from invoices.models import Company
from portal.site.look import asset_digest


def _file(text: str, content_type: str) -> HttpResponse:
    response = HttpResponse(text, content_type=content_type)
    # The name is the content's hash: a changed file is a new URL.
    response["Cache-Control"] = IMMUTABLE_CACHE_CONTROL
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_safe
def custom_css(request: HttpRequest, key: str, digest: str) -> HttpResponse:
    site = scope.host_site()
    found = Company.objects.filter(public_key=key).values_list("pk", "portal_custom_css").first()
    if found is None or not found[1] or asset_digest(found[1]) != digest:
        raise Http404("No such stylesheet.")
    if site is not None and site.company_id != found[0]:
        raise Http404("No such stylesheet.")  # another company's file on this domain
    return _file(found[1], "text/css; charset=utf-8")


@require_safe
def custom_js(request: HttpRequest, key: str, digest: str) -> HttpResponse:
    """Only on the company's own domain: the shared origin never serves a company's script."""
    site = scope.host_site()
    if site is None:
        raise Http404("No such script.")
    found = (
        Company.objects.filter(pk=site.company_id, public_key=key)
        .values_list("portal_custom_js", flat=True)
        .first()
    )
    if not found or asset_digest(found) != digest:
        raise Http404("No such script.")
    return _file(found, "text/javascript; charset=utf-8")


@require_safe
def tls_ask(request: HttpRequest) -> HttpResponse:
    """Caddy's on-demand TLS asks ``?domain=<name>`` before it requests a certificate: 200
    only for a company's registered portal domain, so nobody else's name gets one."""
    domain = normalize_domain(request.GET.get("domain", ""))
    if site_for_host(domain) is None:
        return HttpResponse("unknown domain\n", status=404, content_type="text/plain")
    return HttpResponse("ok\n", content_type="text/plain")


def company_entry(request: HttpRequest, site: DomainSite) -> HttpResponse:
    """``/`` on a company's domain: that company's portal entry, the view of ``/c/<slug>/``
    (resolved, so this floor does not depend on the module that serves it)."""
    try:
        match = resolve(f"/c/{site.slug}/")
    except Resolver404:
        return not_found(request)
    request.resolver_match = match
    response: HttpResponse = match.func(request, *match.args, **match.kwargs)
    return response
