"""Companies' own portal domains: which company a host name belongs to, and the origin a
company's links and emails use.

Every request whose host is not one of ours asks :func:`site_for_host`, so the answer is one
cached map of every registered domain (no SQL per request; one query to rebuild it), dropped
whenever a company is saved or deleted (see ``invoices.apps``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from invoices.models import Company

_CACHE_KEY = "portal-domains:v1"
# A safety net only: every change to a company drops the map at once.
_CACHE_SECONDS = 3600


@dataclass(frozen=True)
class DomainSite:
    """A company's own portal domain, as the host routing needs it."""

    domain: str
    company_id: int
    slug: str


def _domain_map() -> dict[str, DomainSite]:
    found: Any = cache.get(_CACHE_KEY)
    if isinstance(found, dict):
        return found
    sites = {
        domain: DomainSite(domain=domain, company_id=company_id, slug=slug)
        for domain, company_id, slug in Company.objects.exclude(portal_domain="").values_list(
            "portal_domain", "pk", "slug"
        )
    }
    cache.set(_CACHE_KEY, sites, _CACHE_SECONDS)
    return sites


def site_for_host(domain: str) -> DomainSite | None:
    """The company whose portal domain ``domain`` (lower case, no port) is, if any."""
    if not domain:
        return None
    return _domain_map().get(domain.lower().rstrip("."))


def domain_map_forget() -> None:
    """Drop the cached map now and again once the transaction commits (a request that
    rebuilt it in between would otherwise keep the old answer)."""
    cache.delete(_CACHE_KEY)
    transaction.on_commit(lambda: cache.delete(_CACHE_KEY))


def company_origin(company: Company) -> str:
    """Where the company's customers open its pages: ``https://<its domain>``, or the shared
    origin (PUBLIC_BASE_URL)."""
    if company.portal_domain:
        return f"https://{company.portal_domain}"
    return str(settings.PUBLIC_BASE_URL)
