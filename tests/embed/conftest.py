"""Embed fixtures: the tenant's embed settings and secret, and a helper for frame URLs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from django.conf import settings as django_settings
from django.utils import translation

from invoices.models import Company
from portal.embed import services
from portal.embed.hashing import compute_hash
from portal.embed.models import EmbedSettings

SHOP = "https://shop.example.com"


@pytest.fixture(autouse=True)
def _media_root(settings: Any, tmp_path: Path) -> Iterator[None]:
    # The PDF route stores rendered files: keep them out of the project.
    settings.MEDIA_ROOT = str(tmp_path / "media")
    yield


@pytest.fixture(autouse=True)
def _default_language() -> Iterator[None]:
    # A test-client request with Accept-Language leaves the thread in that language
    # (LocaleMiddleware activates it and nothing deactivates it): each embed test starts in the
    # default language, and whatever a test's requests activate is undone when it ends.
    with translation.override(django_settings.LANGUAGE_CODE):
        yield


def make_embed(company: Company, **fields: Any) -> tuple[EmbedSettings, str]:
    """Embed settings for ``company`` (live mode unless told) and its secret in plain text."""
    fields.setdefault("allowed_origins", [SHOP])
    embed = services.embed_settings_save(settings=EmbedSettings(company=company, **fields))
    secret = services.embed_secret_ensure(company=company)
    assert secret is not None
    return embed, secret


@pytest.fixture
def embed(tenant: Company) -> tuple[EmbedSettings, str]:
    return make_embed(tenant)


def frame_url(company: Company, path: str = "", **params: Any) -> str:
    query = urlencode({key: value for key, value in params.items() if value is not None})
    return f"/embed/{company.public_key}{path}?{query}"


def signed(secret: str, identifier: str, *, ttl: int | None = None) -> dict[str, Any]:
    """The query parameters a host page passes: plain hash, or expiring when ``ttl`` is set."""
    if ttl is None:
        return {"customer": identifier, "hash": compute_hash(secret=secret, identifier=identifier)}
    expires = int(time.time()) + ttl
    digest = compute_hash(secret=secret, identifier=identifier, expires=expires)
    return {"customer": identifier, "hash": digest, "expires": expires}
