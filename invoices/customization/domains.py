"""Companies' own portal domains: which company a host name belongs to, and the origin a
company's links and emails use.

Every request whose host is not one of ours asks :func:`site_for_host`, so the answer is one
cached map of every registered domain (no SQL for a company's domain; one query to rebuild the
map), dropped whenever a company is saved or deleted (see ``invoices.apps``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from invoices.models import Company

logger = logging.getLogger(__name__)

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
    try:
        found: Any = cache.get(_CACHE_KEY)
    except Exception:  # the cache (Redis) is down: routing still works, from the database
        logger.warning("portal domain map: cache unavailable", exc_info=True)
        found = None
    if isinstance(found, dict):
        return found
    sites = {
        domain: DomainSite(domain=domain, company_id=company_id, slug=slug)
        for domain, company_id, slug in Company.objects.exclude(portal_domain="").values_list(
            "portal_domain", "pk", "slug"
        )
    }
    try:
        cache.set(_CACHE_KEY, sites, _CACHE_SECONDS)
    except Exception:
        logger.warning("portal domain map: cache unavailable", exc_info=True)
    return sites


def site_for_host(domain: str) -> DomainSite | None:
    """The company whose portal domain ``domain`` (no port) is, if any. From the cached map;
    a host the map does not know is asked of the database once more (one indexed query, only
    on the way to a 400), in case a company got its domain without a save() (a bulk update)."""
    name = (domain or "").lower().rstrip(".")
    if not name:
        return None
    site = _domain_map().get(name)
    if site is not None:
        return site
    found = Company.objects.filter(portal_domain=name).values_list("pk", "slug").first()
    if found is None:
        return None
    _forget()  # stale: rebuilt at the next request
    return DomainSite(domain=name, company_id=found[0], slug=found[1])


def _forget() -> None:
    try:
        cache.delete(_CACHE_KEY)
    except Exception:  # the cache is down: nothing cached to drop, saving goes on
        logger.warning("portal domain map: cache unavailable", exc_info=True)


def domain_map_forget() -> None:
    """Drop the cached map now and again once the transaction commits (a request that
    rebuilt it in between would otherwise keep the old answer)."""
    _forget()
    transaction.on_commit(_forget)


def company_origin(company: Company) -> str:
    """Where the company's customers open its pages: ``https://<its domain>``, or the shared
    origin (PUBLIC_BASE_URL)."""
    if company.portal_domain:
        return f"https://{company.portal_domain}"
    return str(settings.PUBLIC_BASE_URL)
