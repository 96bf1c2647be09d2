"""Rendered HTML kept in the cache under a key that names everything it shows.

The key changes whenever what is cached shows something else (a fingerprint of its inputs), so
nothing is ever stale and nothing needs invalidating. A cache outage only costs speed: reads
answer CACHE_DOWN and the caller renders, and writes are skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.core.cache import cache
from django.utils.safestring import SafeString, mark_safe

logger = logging.getLogger(__name__)

# What cache_get answers when the cache failed: render, and do not try to store either.
CACHE_DOWN = object()


def cache_get(key: str) -> object:
    """The cached value, None when there is none, or CACHE_DOWN. One GET."""
    try:
        return cache.get(key)
    except Exception:  # any cache backend error: serve uncached
        logger.warning("fragment cache unavailable", exc_info=True)
        return CACHE_DOWN


def cache_set(key: str, value: object, seconds: int) -> None:
    try:
        cache.set(key, value, seconds)
    except Exception:
        logger.warning("fragment cache unavailable", exc_info=True)


def cached_html(key: str | None, render: Callable[[], str], seconds: int) -> SafeString:
    """The fragment cached under ``key``, or ``render()`` stored there for ``seconds``; with
    ``key`` None, ``render()`` alone (a page cached whole keeps no copy of its parts).

    Fragments are our own rendered (autoescaped) templates, hence safe."""
    if key is None:
        return mark_safe(str(render()))  # noqa: S308
    html = cache_get(key)
    if not isinstance(html, str):
        rendered = str(render())
        if html is not CACHE_DOWN:
            cache_set(key, rendered, seconds)
        html = rendered
    return mark_safe(html)  # noqa: S308
