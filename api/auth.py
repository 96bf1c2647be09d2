from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja.security import HttpBearer

from invoices.models import ApiKey, Company
from invoices.services import api_key_hash

# Where the key's company is kept on the request once looked up (the gate looks first, for
# idempotency and rate limits; the route's auth then reads it without a second query).
_CACHE_ATTR = "_api_key_companies"


def company_for_key(request: HttpRequest, token: str) -> Company | None:
    """The company of an unrevoked API key, or None. One query per request and key."""
    cache: dict[str, Company | None] = getattr(request, _CACHE_ATTR, {})
    if token in cache:
        return cache[token]
    key = (
        ApiKey.objects.select_related("company")
        .filter(key_hash=api_key_hash(token), revoked_at__isnull=True)
        .first()
    )
    company = None
    if key is not None:
        company = key.company
        # At most one write a minute per key: last-used is informative, not an audit trail.
        now = timezone.now()
        if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    cache[token] = company
    setattr(request, _CACHE_ATTR, cache)
    return company


def bearer_token(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class ApiKeyAuth(HttpBearer):
    """Bearer API keys; ``request.auth`` becomes the key's company."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        return company_for_key(request, token)


def company_of(request: HttpRequest) -> Company:
    company = request.auth  # type: ignore[attr-defined]
    assert isinstance(company, Company)
    return company
