"""What a customer page adds for its company: the custom stylesheet, the custom script (only on
the company's own domain), the analytics loader, and the CSP sources each of them needs.

The page's company is the one whose token opened it, or on a company's own domain that
company (``invoices.customization.scope``). Computed once per request; the template tags in
``portal.templatetags.portal_look`` emit the tags, and ``portal.middleware`` adds the sources
they recorded to the response's CSP, so the policy names exactly what the page loads."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from django.http import HttpRequest
from django.urls import reverse

from invoices.customization import scope
from invoices.customization.validation import TRUSTED_SITE_KINDS, analytics_kind
from invoices.models import Company

# What each analytics service's loader needs (Google's and Plausible's documented CSP).
ANALYTICS_SOURCES: dict[str, dict[str, list[str]]] = {
    "ga4": {
        "script-src": ["https://www.googletagmanager.com"],
        "connect-src": [
            "https://*.google-analytics.com",
            "https://*.analytics.google.com",
            "https://www.googletagmanager.com",
        ],
        "img-src": ["https://*.google-analytics.com", "https://www.googletagmanager.com"],
    },
    "plausible": {
        "script-src": ["https://plausible.io"],
        "connect-src": ["https://plausible.io"],
    },
}
ANALYTICS_LOADERS = {
    "ga4": "https://www.googletagmanager.com/gtag/js?id={id}",
    "plausible": "https://plausible.io/js/script.manual.js",
}


def asset_digest(text: str) -> str:
    """The content hash in a custom file's URL: a new text is a new URL, so the file can be
    cached for good."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


@dataclass
class PageLook:
    company_key: str
    css_url: str = ""
    js_url: str = ""
    analytics_kind: str = ""
    analytics_id: str = ""
    trusted: dict[str, list[str]] = field(default_factory=dict)


def _company_for(request: HttpRequest) -> Company | None:
    company = scope.page_company()
    site = scope.host_site()
    if company is None and site is not None:
        company = Company.objects.filter(pk=site.company_id).first()
    if company is None or (site is not None and company.pk != site.company_id):
        return None
    return company


def page_look(request: HttpRequest | None) -> PageLook | None:
    """The current page's look, or None when no company's page is being served."""
    if request is None:
        return None
    cached: PageLook | bool | None = getattr(request, "_portal_look", False)
    if cached is not False:
        return cached  # type: ignore[return-value]
    company = _company_for(request)
    look = _look_of(company, on_own_domain=scope.host_site() is not None) if company else None
    request._portal_look = look  # type: ignore[attr-defined]
    return look


def _look_of(company: Company, *, on_own_domain: bool) -> PageLook:
    look = PageLook(company_key=company.public_key)
    if company.portal_custom_css:
        look.css_url = reverse(
            "portal_custom_css",
            args=[company.public_key, asset_digest(company.portal_custom_css)],
        )
    # Never on the shared origin: there it would run beside every other company's pages.
    if company.portal_custom_js and on_own_domain:
        look.js_url = reverse(
            "portal_custom_js", args=[company.public_key, asset_digest(company.portal_custom_js)]
        )
    if company.portal_analytics_id:
        look.analytics_id = company.portal_analytics_id
        look.analytics_kind = analytics_kind(company.portal_analytics_id)
    for site in company.portal_csp_trusted_sites or []:
        for kind in site.get("kinds", []):
            directive = TRUSTED_SITE_KINDS.get(kind)
            if directive:
                look.trusted.setdefault(directive, []).append(str(site["origin"]))
    return look


def csp_add(request: HttpRequest, sources: dict[str, list[str]]) -> None:
    """Sources this page's response adds to its CSP (``portal.middleware`` applies them)."""
    update: dict[str, list[str]] = request.__dict__.setdefault("_portal_csp_update", {})
    for directive, values in sources.items():
        listed = update.setdefault(directive, [])
        listed.extend(value for value in values if value not in listed)


def csp_update_for(request: HttpRequest) -> dict[str, list[str]]:
    return dict(getattr(request, "_portal_csp_update", {}))
