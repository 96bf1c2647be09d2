from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja.security import HttpBearer

from invoices.models import ApiKey, Company
from invoices.services import api_key_hash


class ApiKeyAuth(HttpBearer):
    """Bearer API keys; ``request.auth`` becomes the key's company."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        key = (
            ApiKey.objects.select_related("company")
            .filter(key_hash=api_key_hash(token), revoked_at__isnull=True)
            .first()
        )
        if key is None:
            return None
        # At most one write a minute per key: last-used is informative, not an audit trail.
        now = timezone.now()
        if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        return key.company


def company_of(request: HttpRequest) -> Company:
    company = request.auth  # type: ignore[attr-defined]
    assert isinstance(company, Company)
    return company
